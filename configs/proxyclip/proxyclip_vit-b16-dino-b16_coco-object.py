# ProxyCLIP with DINO ViT-B/16 as the VFM, COCO-Object (paper 004, Table 2: 36.25 mIoU).
_base_ = './proxyclip_vit-b16-dino-b8_coco-object.py'
model = dict(vfm=dict(name='dino-b16'))
