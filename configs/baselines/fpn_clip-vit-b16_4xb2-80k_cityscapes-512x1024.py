# Semantic FPN on CLIP ViT-B/16 (DenseCLIP adapters), Cityscapes 512x1024 crops, 4 GPUs x 2
# images, 80k, DenseCLIP's optimiser (crop/batch/schedule: mmseg's Semantic FPN Cityscapes
# recipe, our choice). Positions stored for 512 px, resized to the 32x64 grid per forward.
_base_ = [
    '../_base_/models/fpn_clip_vit.py', '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k_adamw_denseclip.py'
]
crop_size = (512, 1024)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch='ViT-B-16', pretrained='openai', input_resolution=512),
    decode_head=dict(num_classes=19),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 682)))
