# Conv-Former on the toy shapes: the FPN demo config (same half-width MobileNetV2, same
# optimiser and schedule, same 1000 iterations) with a frozen tiny CLIP text encoder and a
# Conv-Former neck. The main job of `make demo`, which trains both and prints both mIoUs.
#
# Toy choices (docs/methods/convformer.md, "Toy data"): the text tower has random weights
# (nothing can be downloaded), so its class embeddings carry no language prior; the 96 px
# images leave a 3x3 map at stride 32, so the fusion runs at stride 16 (6x6, score_level=2)
# with N = 2 blocks (the paper's ablation range is 1..8); S is the cosine score and is
# supervised by DenseCLIP's identity loss, which gives the random class embeddings a
# meaning. The paper configs (configs/convformer/) use N = 6, Eq. 2's inner product and
# no identity loss.
_base_ = './fpn_mobilenetv2-tiny_1xb8-1000_toy-96x96.py'
model = dict(
    type='LanguageGuidedEncoderDecoder',
    class_names='toy',
    text_encoder=dict(type='FrozenCLIPTextEncoder', arch='tiny-text',
                      templates='a photo of a {}.'),
    fusion=dict(
        type='ConvFormerFusion',
        score_level=2,
        num_blocks=2,
        num_heads=4,
        score='cosine',
        use_embeddings=False,
        norm_cfg=dict(type='SyncBN', requires_grad=True)),
    identity_head=dict(
        type='ScoreMapIdentityHead',
        tau=0.07,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))
