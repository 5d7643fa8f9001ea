# Semantic FPN on an ImageNet ResNet-50 (mmseg's ResNetV1c, deep stem), with the
# DenseCLIP baseline's FPN (256) and FPNHead (256 channels).
_base_ = './fpn_clip_resnet.py'
model = dict(
    data_preprocessor=dict(
        _delete_=True,
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')))
