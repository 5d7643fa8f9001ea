# Conv-Former + Semantic FPN on ImageNet EfficientFormerV2-S1 (timm), Cityscapes.
# N = 6 Conv-Former blocks, frozen CLIP text encoder with "a photo of a {}."; see
# docs/methods/convformer.md for every interpretation.
_base_ = '../baselines/fpn_efficientformer_4xb2-80k_cityscapes-512x1024.py'
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
# AdamW (transformer backbone), image encoder lr x 0.1: the baseline's DenseCLIP recipe.
