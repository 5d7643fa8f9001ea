# SegCLIP ablation: 4 cross-attention blocks, contrastive only (Table 3: 45.39 / 23.17 / 23.80) (VOC / Context / COCO-Object mIoU).
_base_ = './segclip_vit-b16_8xb96-10e_cc3m-coco.py'
model = dict(losses=('contrastive', ), backbone=dict(num_cross_attn=4))
