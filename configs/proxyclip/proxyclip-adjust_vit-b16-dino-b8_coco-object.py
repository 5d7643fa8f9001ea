# ProxyCLIP with paper 004's feature adjustment (CLIP-Surgery-style redundancy
# subtraction), COCO-Object (paper 004, Table 1: 22.89 mIoU against 37.54 without).
_base_ = './proxyclip_vit-b16-dino-b8_coco-object.py'
model = dict(feature_adjustment=True)
