# Conv-Former + Semantic FPN on ImageNet MobileNetV2 (mmseg), ADE20K.
# Conv-Former paper Table 1: 32.2 mIoU, 41.3 GFLOPs (input size not stated).
# N = 6 Conv-Former blocks, frozen CLIP text encoder with "a photo of a {}."; see
# docs/methods/convformer.md for every interpretation.
_base_ = '../baselines/fpn_mobilenetv2_8xb4-80k_ade20k-512x512.py'
model = dict(
    type='LanguageGuidedEncoderDecoder',
    class_names='ade20k',
    text_encoder=dict(type='FrozenCLIPTextEncoder', arch='ViT-B-16', pretrained='openai',
                      templates='a photo of a {}.'),
    fusion=dict(
        type='ConvFormerFusion',
        score_level=3,
        num_blocks=6,
        num_heads=8,
        bridge='cross_attention',
        use_embeddings=False,
        norm_cfg=dict(type='SyncBN', requires_grad=True)),
)
# The paper's recipe for convolutional backbones: SGD, image encoder at lr x 0.1.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=0.1),
        'text_encoder': dict(lr_mult=0.0),
    }))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=80000, by_epoch=False)
]
