# Conv-Former + Semantic FPN on ImageNet Xception (timm 'legacy_xception'), Cityscapes.
# N = 6 Conv-Former blocks, frozen CLIP text encoder with "a photo of a {}."; see
# docs/methods/convformer.md for every interpretation.
_base_ = '../baselines/fpn_xception_4xb2-80k_cityscapes-512x1024.py'
model = dict(
    type='LanguageGuidedEncoderDecoder',
    class_names='cityscapes',
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
