# Semantic FPN on ImageNet ResNet-101 (V1c), Cityscapes.
# 512x1024 crops, 4 GPUs x 2 images, 80k iterations of the DenseCLIP optimiser,
# sliding-window inference (stride 341x682): the recipe of the CLIP Cityscapes baselines
# (our choice: the papers do not state theirs).
_base_ = './fpn_r50_4xb2-80k_cityscapes-512x1024.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet101_v1c')))
