# DenseCLIP + Semantic FPN on CLIP ViT-B/16, ADE20K.
# Conv-Former paper Table 2: 50.6 mIoU.
# DenseCLIP README: 50.6 mIoU, 1043.1 GFLOPs (output rule), 105.3 M params at 1024x1024.
# Context decoder (3 x 256, 4 heads), gamma 1e-4, 8 learnable contexts, identity loss
# (tau 0.07, weight 0.4); see docs/methods/denseclip.md.
_base_ = '../baselines/fpn_clip-vit-b16_8xb4-80k_ade20k-640x640.py'
model = dict(
    type='LanguageGuidedEncoderDecoder',
    class_names='ade20k',
    backbone=dict(with_embeddings=True, input_resolution=640, drop_path_rate=0.1),
    text_encoder=dict(type='LearnableContextTextEncoder', arch='ViT-B-16',
                      pretrained='openai', n_ctx=8, context_length=13),
    fusion=dict(
        type='DenseCLIPFusion',
        score_level=2,
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
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='ade20k',
    published_miou=50.6,
    source='Rao et al., CVPR 2022 (arXiv:2112.01518) / DenseCLIP README',
    tolerance=1.5,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=True,
    weights={'model': 'a trained checkpoint'},
    notes='single-scale sliding-window test after the published schedule (global batch as the config name: keep it with --gpus, docs/getting_started.md)')
