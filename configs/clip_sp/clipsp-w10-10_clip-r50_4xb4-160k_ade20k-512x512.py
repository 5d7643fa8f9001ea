# Ablation (Li et al., CVM 2024, doi:10.1007/s41095-024-0430-4, Table 7): lambda_1 = 10.0 (ASL), lambda_2 = 1.0 (attention loss)
# (43.85 mIoU; 10 / 0.4: 44.59).
_base_ = './clipsp_clip-r50_4xb4-160k_ade20k-512x512.py'
model = dict(fusion=dict(loss_ml=dict(loss_weight=10.0), loss_aux=dict(type='SceneAttentionLoss', loss_weight=1.0)))
