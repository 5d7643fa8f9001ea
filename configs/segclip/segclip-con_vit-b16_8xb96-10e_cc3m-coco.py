# SegCLIP ablation: contrastive only (Table 1: 47.95 / 23.43 / 24.86) (VOC / Context / COCO-Object mIoU).
_base_ = './segclip_vit-b16_8xb96-10e_cc3m-coco.py'
model = dict(losses=('contrastive', ))
