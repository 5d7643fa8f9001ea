# SegCLIP ablation: 6 centers, contrastive only (Table 2: 47.03 / 23.36 / 24.85) (VOC / Context / COCO-Object mIoU).
_base_ = './segclip_vit-b16_8xb96-10e_cc3m-coco.py'
model = dict(losses=('contrastive', ), backbone=dict(num_centers=6))
