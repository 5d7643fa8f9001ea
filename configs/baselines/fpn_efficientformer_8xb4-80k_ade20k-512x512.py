# Semantic FPN on ImageNet EfficientFormerV2-S1 (Li et al. 2023, "Rethinking Vision
# Transformers for MobileNet Size and Speed", the paper's ref. [14]; timm), ADE20K, the
# DenseCLIP recipe with AdamW. Conv-Former paper Table 1: 42.1 mIoU, 48.9 GFLOPs.
# EfficientFormerV2's attention biases are sized for img_size: inference slides 512 crops.
_base_ = [
    '../_base_/models/fpn_timm.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k_adamw_denseclip.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(model_name='efficientformerv2_s1', pretrained=True, img_size=512),
    neck=dict(in_channels=[32, 48, 120, 224]),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
