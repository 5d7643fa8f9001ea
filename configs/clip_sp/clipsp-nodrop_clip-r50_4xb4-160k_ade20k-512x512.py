# Ablation (Li et al., CVM 2024, doi:10.1007/s41095-024-0430-4, Table 2): Dual GraphFormer without batch drop (44.06 mIoU).
_base_ = './clipsp_clip-r50_4xb4-160k_ade20k-512x512.py'
custom_hooks = []
