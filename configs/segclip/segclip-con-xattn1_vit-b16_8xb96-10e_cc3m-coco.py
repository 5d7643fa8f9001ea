# SegCLIP ablation: 1 cross-attention blocks, contrastive only (Table 3: 47.63 / 23.29 / 24.21) (VOC / Context / COCO-Object mIoU).
_base_ = './segclip_vit-b16_8xb96-10e_cc3m-coco.py'
model = dict(losses=('contrastive', ), backbone=dict(num_cross_attn=1))
