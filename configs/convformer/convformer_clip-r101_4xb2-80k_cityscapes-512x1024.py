# Conv-Former + Semantic FPN on CLIP RN101, Cityscapes.
# Conv-Former paper Table 2: 77.5 mIoU.
# N = 6 Conv-Former blocks, frozen CLIP text encoder with "a photo of a {}."; see
# docs/methods/convformer.md for every interpretation.
# The RN50 config with CLIP RN101 (image and text towers, same recipe).
_base_ = './convformer_clip-r50_4xb2-80k_cityscapes-512x1024.py'
model = dict(
    backbone=dict(arch='RN101'),
    text_encoder=dict(arch='RN101'))
