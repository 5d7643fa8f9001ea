# Semantic FPN on ImageNet ResNet-101 (ResNetV1c), ADE20K, the DenseCLIP recipe.
# Published (CLIP-SP Table 1): 40.37 mIoU, 305 GFLOPs, 50 M params at 1024x1024.
_base_ = './fpn_r50_8xb4-80k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet101_v1c')))
