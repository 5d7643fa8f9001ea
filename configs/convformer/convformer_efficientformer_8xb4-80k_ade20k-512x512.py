# Conv-Former + Semantic FPN on ImageNet EfficientFormerV2-S1 (timm), ADE20K.
# Conv-Former paper Table 1: 45.9 mIoU, 53.9 GFLOPs (input size not stated).
# N = 6 Conv-Former blocks, frozen CLIP text encoder with "a photo of a {}."; see
# docs/methods/convformer.md for every interpretation.
_base_ = '../baselines/fpn_efficientformer_8xb4-80k_ade20k-512x512.py'
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
# AdamW (transformer backbone), image encoder lr x 0.1: the baseline's DenseCLIP recipe.
