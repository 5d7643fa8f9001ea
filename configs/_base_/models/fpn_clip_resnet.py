# Semantic FPN on CLIP's ResNet (DenseCLIP's baseline): CLIP normalisation, FPN 256,
# FPNHead with 256 channels. The attention pool is not built (with_embeddings=False).
# Every BatchNorm of the CLIP ResNet is SyncBN, as the official DenseCLIP run converts the
# whole backbone (train_denseclip.py, convert_sync_batchnorm); a one-process run reverts
# SyncBN to BatchNorm (mmengine Runner.wrap_model), for the backbone as for the head.
norm_cfg = dict(type='SyncBN', requires_grad=True)
clip_data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=clip_data_preprocessor,
    backbone=dict(
        type='CLIPResNet',
        arch='RN50',
        pretrained='openai',
        with_embeddings=False,
        norm_cfg=norm_cfg),
    neck=dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        num_outs=4),
    decode_head=dict(
        type='FPNHead',
        in_channels=[256, 256, 256, 256],
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=256,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
