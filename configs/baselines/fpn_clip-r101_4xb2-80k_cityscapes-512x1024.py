# Semantic FPN on CLIP RN101, Cityscapes.
# 512x1024 crops, 4 GPUs x 2 images, 80k iterations of the DenseCLIP optimiser,
# sliding-window inference (stride 341x682): the recipe of the CLIP Cityscapes baselines
# (our choice: the papers do not state theirs).
_base_ = [
    '../_base_/models/fpn_clip_resnet.py', '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k_adamw_denseclip.py'
]
crop_size = (512, 1024)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch='RN101', pretrained='openai'),
    # Neck and head keep their constructor-time init, as the official run (it calls only
    # backbone.init_weights and text_encoder.init_weights): mmseg's init_cfg is not applied.
    neck=dict(init_cfg=None),
    decode_head=dict(num_classes=19, init_cfg=None),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 682)))
