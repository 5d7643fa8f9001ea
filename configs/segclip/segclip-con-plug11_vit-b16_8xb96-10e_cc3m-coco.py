# SegCLIP ablation: plugged after layer 11, contrastive only (Table 2: 22.07 / 10.76 / 12.08) (VOC / Context / COCO-Object mIoU).
_base_ = './segclip_vit-b16_8xb96-10e_cc3m-coco.py'
model = dict(losses=('contrastive', ), backbone=dict(plug_layer=11))
