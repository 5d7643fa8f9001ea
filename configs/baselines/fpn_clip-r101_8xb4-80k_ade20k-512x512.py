# Semantic FPN on CLIP RN101, ADE20K, DenseCLIP's recipe (8 GPUs x 4 images, 80k).
# Published (DenseCLIP README): 42.7 mIoU, 326.6 GFLOPs, 50.0 M params at 1024x1024.
_base_ = [
    '../_base_/models/fpn_clip_resnet.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k_adamw_denseclip.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch='RN101', pretrained='openai'),
    # Neck and head keep their constructor-time init, as the official run (it calls only
    # backbone.init_weights and text_encoder.init_weights): mmseg's init_cfg is not applied.
    neck=dict(init_cfg=None),
    decode_head=dict(init_cfg=None),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
