# SegCLIP ablation: 0 cross-attention blocks, contrastive only (Table 3: 44.44 / 22.28 / 22.11) (VOC / Context / COCO-Object mIoU).
_base_ = './segclip_vit-b16_8xb96-10e_cc3m-coco.py'
model = dict(losses=('contrastive', ), backbone=dict(num_cross_attn=0))
