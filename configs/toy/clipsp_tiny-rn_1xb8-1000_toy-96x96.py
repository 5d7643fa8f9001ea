# CLIP-SP on the toy shapes, end to end on CPU: a tiny random CLIP ResNet (with its dense
# attention pool) + a frozen tiny CLIP text encoder, the Dual GraphFormer multi-label
# decoder, top-k scene tokens (k = 5 of 10), the scene refinement neck, ASL + auxiliary
# attention loss, batch drop; validation reports mIoU and multi-label mAP.
_base_ = './fpn_mobilenetv2-tiny_1xb8-1000_toy-96x96.py'
model = dict(
    type='LanguageGuidedEncoderDecoder',
    class_names='toy',
    data_preprocessor=dict(mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323]),
    backbone=dict(_delete_=True, type='CLIPResNet', arch='tiny-rn', with_embeddings=True,
                  input_resolution=96),
    text_encoder=dict(type='FrozenCLIPTextEncoder', arch='tiny-rn',
                      templates='a photo of a {}.'),
    fusion=dict(
        type='CLIPSPFusion',
        k=5,
        decoder=dict(type='DualGraphFormerDecoder', num_blocks=3, num_nodes=8, num_heads=4),
        attn_dim=32,
        norm_cfg=dict(type='SyncBN', requires_grad=True)),
    neck=dict(in_channels=[32, 64, 128, 256]))
custom_hooks = [dict(type='BatchDropHook', r_start=0.9, r_end=0.1, decay=0.995)]
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']), dict(type='MultiLabelMAP')]
test_evaluator = val_evaluator
