# Ablation (Li et al., CVM 2024, doi:10.1007/s41095-024-0430-4, Table 3): 5 Dual GraphFormer blocks (42.25 mIoU; 3 blocks: 44.59).
_base_ = './clipsp_clip-r50_4xb4-160k_ade20k-512x512.py'
model = dict(fusion=dict(decoder=dict(num_blocks=5)))
