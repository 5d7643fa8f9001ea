# ProxyCLIP with SAM ViT-B as the VFM (crop resized to 1024, neck output), COCO-Object
# (paper 004, Table 2: 23.75 mIoU).
_base_ = './proxyclip_vit-b16-dino-b8_coco-object.py'
model = dict(vfm=dict(name='sam-b'))
