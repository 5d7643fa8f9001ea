# Semantic FPN on ImageNet ResNet-50 (ResNetV1c), ADE20K, the DenseCLIP recipe.
# Published (CLIP-SP Table 1): 37.49 mIoU, 227 GFLOPs, 31 M params at 1024x1024.
_base_ = [
    '../_base_/models/fpn_r50.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k_adamw_denseclip.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
