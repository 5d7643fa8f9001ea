# CLIP-SP + Semantic FPN on CLIP RN50, ADE20K, 160k iterations, batch 16 (4 GPUs x 4).
# Published (Li et al., CVM 2024, doi:10.1007/s41095-024-0430-4, Table 1): 44.59 mIoU, 260 GFLOPs, 65 M params at 1024x1024.
# Before training, make the label co-occurrence prior of the text path:
#   python tools/compute_cooccurrence.py configs/clip_sp/clipsp_clip-r50_4xb4-160k_ade20k-512x512.py \
#       --out data/ade/ADEChallengeData2016/cooccurrence_train.npz
_base_ = [
    '../_base_/models/fpn_clip_resnet.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_160k_adamw_clipsp.py'
]
crop_size = (512, 512)
model = dict(
    type='LanguageGuidedEncoderDecoder',
    class_names='ade20k',
    data_preprocessor=dict(size=crop_size),
    # Local tokens from the attention pool's value path (MaskCLIP), the global token from
    # CLIP's own pooling; CLIP's 7x7 positions, resized to the map at every forward.
    backbone=dict(arch='RN50', pretrained='openai', with_embeddings=True, dense_mode='value'),
    text_encoder=dict(type='FrozenCLIPTextEncoder', arch='RN50', pretrained='openai',
                      templates='a photo of a {}.'),
    fusion=dict(
        type='CLIPSPFusion',
        score_level=3,
        k=30,
        decoder=dict(
            type='DualGraphFormerDecoder',
            num_blocks=3,
            num_nodes=64,
            num_heads=8,
            attn_dim=None,  # C / 2
            cooccurrence='data/ade/ADEChallengeData2016/cooccurrence_train.npz'),
        attn_dim=128,
        mlp_hidden=None,  # the gate's MLP: one linear layer C+1 -> C4
        loss_ml=dict(type='AsymmetricLoss', gamma_neg=4, gamma_pos=0, clip=0.05,
                     loss_weight=10.0),
        loss_aux=dict(type='SceneAttentionLoss', loss_weight=0.4),
        norm_cfg=dict(type='SyncBN', requires_grad=True)),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
train_dataloader = dict(batch_size=4)
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']), dict(type='MultiLabelMAP')]
test_evaluator = val_evaluator
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='ade20k',
    published_miou=44.59,
    source='Li et al., CVM 2024 (doi:10.1007/s41095-024-0430-4), Table 1',
    tolerance=1.5,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=True,
    weights={'model': 'a trained checkpoint'},
    notes='single-scale sliding-window test after the published schedule (global batch as the config name: keep it with --gpus, docs/getting_started.md)')
