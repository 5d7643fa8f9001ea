# Semantic FPN on ImageNet MobileNetV2 (mmseg), Cityscapes.
# 512x1024 crops, 4 GPUs x 2 images, 80k iterations of the DenseCLIP optimiser,
# sliding-window inference (stride 341x682): the recipe of the CLIP Cityscapes baselines
# (our choice: the papers do not state theirs).
_base_ = [
    '../_base_/models/fpn_r50.py', '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k_adamw_denseclip.py'
]
crop_size = (512, 1024)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.0,
        strides=(1, 2, 2, 2, 1, 2, 1),
        dilations=(1, 1, 1, 1, 1, 1, 1),
        out_indices=(1, 2, 4, 6),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint='mmcls://mobilenet_v2')),
    neck=dict(in_channels=[24, 32, 96, 320]),
    decode_head=dict(num_classes=19),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 682)))
