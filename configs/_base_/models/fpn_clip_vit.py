# Semantic FPN on CLIP's ViT-B/16 with DenseCLIP's multi-level adapters.
_base_ = './fpn_clip_resnet.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='CLIPViT',
        arch='ViT-B-16',
        pretrained='openai',
        input_resolution=640,
        out_indices=(3, 5, 7, 11),
        with_embeddings=False,
        drop_path_rate=0.0,
        norm_cfg=dict(type='SyncBN', requires_grad=True)),
    neck=dict(in_channels=[768, 768, 768, 768]))
