# Conv-Former + UperNet on ImageNet Swin-T (mmseg) + UperNet, ADE20K.
# Conv-Former paper Table 2: 45.9 mIoU.
# N = 6 Conv-Former blocks, frozen CLIP text encoder with "a photo of a {}."; see
# docs/methods/convformer.md for every interpretation.
_base_ = '../baselines/upernet_swin-t_8xb2-160k_ade20k-512x512.py'
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
# The paper's recipe: image encoder at lr x 0.1 (on top of mmseg's Swin settings).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'backbone': dict(lr_mult=0.1),
    'text_encoder': dict(lr_mult=0.0),
    'text_encoder.contexts': dict(lr_mult=1.0),
}))
