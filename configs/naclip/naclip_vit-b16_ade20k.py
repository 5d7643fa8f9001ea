# NACLIP, CLIP ViT-B/16, training-free, with PAMR (the official default), on ade20k.
# Published (NACLIP README, its default setup: PAMR on): 19.05 mIoU.
# Evaluate: python tools/test.py configs/naclip/naclip_vit-b16_ade20k.py
# Official settings: github.com/sinahmr/NACLIP configs/cfg_ade20k.py:5
#   (the defaults; short side 336: configs/cfg_ade20k.py:14).
# Class names: the official configs/cls_ade20k.txt, identical to langseg's (ProxyCLIP's) file.
_base_ = [
    '../_base_/models/naclip_vit-b16.py', '../_base_/datasets/ov_ade20k.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_ade20k.txt')
# Short side 336 (the dataset base resizes to 448).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='ade20k',
    published_miou=19.05,
    source='Hajimiri, Ben Ayed and Dolz, NACLIP, WACV 2025 (arXiv:2404.08181); the '
           'official README (github.com/sinahmr/NACLIP), its default setup (PAMR on)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (PAMR on)')
