# Conv-Former + Semantic FPN on CLIP ViT-B/16, Cityscapes.
# Conv-Former paper Table 2: 81.3 mIoU.
# N = 6 Conv-Former blocks, frozen CLIP text encoder with "a photo of a {}."; see
# docs/methods/convformer.md for every interpretation.
_base_ = '../baselines/fpn_clip-vit-b16_4xb2-80k_cityscapes-512x1024.py'
model = dict(
    type='LanguageGuidedEncoderDecoder',
    class_names='cityscapes',
    # The class embedding added once (the FPN baseline adds it twice as DenseCLIP's code;
    # Conv-Former has no official code to follow).
    backbone=dict(with_embeddings=True, input_resolution=640, double_class_embedding=False),
    text_encoder=dict(type='FrozenCLIPTextEncoder', arch='ViT-B-16', pretrained='openai',
                      templates='a photo of a {}.'),
    fusion=dict(
        type='ConvFormerFusion',
        score_level=2,
        num_blocks=6,
        num_heads=8,
        bridge='cross_attention',
        use_embeddings=True,
        norm_cfg=dict(type='SyncBN', requires_grad=True)),
)
# AdamW (transformer backbone), image encoder lr x 0.1: the baseline's DenseCLIP recipe.
