# SegCLIP ablation: + reconstruction (Table 1: 49.14 / 24.35 / 25.52) (VOC / Context / COCO-Object mIoU).
_base_ = './segclip_vit-b16_8xb96-10e_cc3m-coco.py'
model = dict(losses=('contrastive', 'reconstruction'))
