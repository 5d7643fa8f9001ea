# Ablation (Li et al., CVM 2024, doi:10.1007/s41095-024-0430-4, Table 2): MLP multi-label decoder, no batch drop (43.14 mIoU).
_base_ = './clipsp_clip-r50_4xb4-160k_ade20k-512x512.py'
model = dict(fusion=dict(decoder=dict(_delete_=True, type='MLPMultiLabelDecoder')))
custom_hooks = []
