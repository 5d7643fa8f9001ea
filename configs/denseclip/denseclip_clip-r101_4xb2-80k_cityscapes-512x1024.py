# DenseCLIP + Semantic FPN on CLIP RN101, Cityscapes.
# Conv-Former paper Table 2: 77.1 mIoU.
# Context decoder (3 x 256, 4 heads), gamma 1e-4, 8 learnable contexts, identity loss
# (tau 0.07, weight 0.4); see docs/methods/denseclip.md.
# The RN50 config with CLIP RN101 (image and text towers, same recipe).
_base_ = './denseclip_clip-r50_4xb2-80k_cityscapes-512x1024.py'
model = dict(
    backbone=dict(arch='RN101'),
    text_encoder=dict(arch='RN101'))
