# Ablation (Li et al., CVM 2024, doi:10.1007/s41095-024-0430-4, Table 4): k = 150 scene labels (43.65 mIoU; k = 30: 44.59).
_base_ = './clipsp_clip-r50_4xb4-160k_ade20k-512x512.py'
model = dict(fusion=dict(k=150))
