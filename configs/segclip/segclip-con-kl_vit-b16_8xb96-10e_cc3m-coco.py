# SegCLIP ablation: + superpixel KL (Table 1: 48.49 / 24.15 / 25.93) (VOC / Context / COCO-Object mIoU).
_base_ = './segclip_vit-b16_8xb96-10e_cc3m-coco.py'
model = dict(losses=('contrastive', 'superpixel'))
