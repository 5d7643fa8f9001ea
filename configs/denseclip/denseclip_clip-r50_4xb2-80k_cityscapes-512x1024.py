# DenseCLIP + Semantic FPN on CLIP RN50, Cityscapes.
# Conv-Former paper Table 2: 75.9 mIoU.
# Context decoder (3 x 256, 4 heads), gamma 1e-4, 8 learnable contexts, identity loss
# (tau 0.07, weight 0.4); see docs/methods/denseclip.md.
_base_ = '../baselines/fpn_clip-r50_4xb2-80k_cityscapes-512x1024.py'
model = dict(
    type='LanguageGuidedEncoderDecoder',
    class_names='cityscapes',
    backbone=dict(with_embeddings=True, input_resolution=512),
    text_encoder=dict(type='LearnableContextTextEncoder', arch='RN50',
                      pretrained='openai', n_ctx=8, context_length=13),
    fusion=dict(
        type='DenseCLIPFusion',
        score_level=3,
        context_decoder=dict(width=256, num_heads=4, num_layers=3, dropout=0.1),
        gamma_init=1e-4),
    identity_head=dict(
        type='ScoreMapIdentityHead',
        tau=0.07,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))
# DenseCLIP's recipe (AdamW, backbone x 0.1); the learnable contexts train at the base lr.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'text_encoder.contexts': dict(lr_mult=1.0),
}))
