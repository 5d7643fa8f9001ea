# SegCLIP ablation: 10 centers, contrastive only (Table 2: 44.89 / 23.46 / 24.74) (VOC / Context / COCO-Object mIoU).
_base_ = './segclip_vit-b16_8xb96-10e_cc3m-coco.py'
model = dict(losses=('contrastive', ), backbone=dict(num_centers=10))
