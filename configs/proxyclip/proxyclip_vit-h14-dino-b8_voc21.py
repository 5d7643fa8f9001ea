# ProxyCLIP with OpenCLIP ViT-H/14 (LAION-2B) + DINO ViT-B/8, VOC21 (published 65.0 mIoU).
_base_ = './proxyclip_vit-b16-dino-b8_voc21.py'
model = dict(clip=dict(arch='ViT-H-14', pretrained='laion2b_s32b_b79k'), prob_thd=0.2)
