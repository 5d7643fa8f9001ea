# Semantic FPN on ImageNet Xception (Chollet 2017; timm 'legacy_xception'), ADE20K,
# the DenseCLIP recipe. Conv-Former paper Table 1: 35.5 mIoU, 40.2 GFLOPs.
_base_ = [
    '../_base_/models/fpn_timm.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k_adamw_denseclip.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(model_name='legacy_xception', pretrained=True),
    neck=dict(in_channels=[128, 256, 728, 2048]),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
