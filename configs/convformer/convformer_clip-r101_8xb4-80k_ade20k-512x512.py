# Conv-Former + Semantic FPN on CLIP RN101, ADE20K.
# Conv-Former paper Table 2: 46.7 mIoU.
# N = 6 Conv-Former blocks, frozen CLIP text encoder with "a photo of a {}."; see
# docs/methods/convformer.md for every interpretation.
# The RN50 config with CLIP RN101 (image and text towers, same recipe).
_base_ = './convformer_clip-r50_8xb4-80k_ade20k-512x512.py'
model = dict(
    backbone=dict(arch='RN101'),
    text_encoder=dict(arch='RN101'))
