# SegCLIP ablation: plugged after layer 6, contrastive only (Table 2: 35.28 / 19.28 / 16.73) (VOC / Context / COCO-Object mIoU).
_base_ = './segclip_vit-b16_8xb96-10e_cc3m-coco.py'
model = dict(losses=('contrastive', ), backbone=dict(plug_layer=6))
