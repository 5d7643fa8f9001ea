# SegCLIP ablation: plugged after layer 8, contrastive only (Table 2: 43.75 / 22.71 / 21.40) (VOC / Context / COCO-Object mIoU).
_base_ = './segclip_vit-b16_8xb96-10e_cc3m-coco.py'
model = dict(losses=('contrastive', ), backbone=dict(plug_layer=8))
