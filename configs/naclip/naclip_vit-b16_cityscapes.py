# NACLIP, CLIP ViT-B/16, training-free, with PAMR (the official default), on cityscapes.
# Published (NACLIP README, its default setup: PAMR on): 38.27 mIoU.
# Evaluate: python tools/test.py configs/naclip/naclip_vit-b16_cityscapes.py
# Official settings: github.com/sinahmr/NACLIP configs/cfg_city_scapes.py:5
#   (the defaults; short side 560: configs/cfg_city_scapes.py:14).
# Class names: the official configs/cls_city_scapes.txt, identical to langseg's (ProxyCLIP's) file.
_base_ = [
    '../_base_/models/naclip_vit-b16.py', '../_base_/datasets/ov_cityscapes.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_city_scapes.txt')
# Short side 560 (the dataset base resizes to 448).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 560), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='cityscapes',
    published_miou=38.27,
    source='Hajimiri, Ben Ayed and Dolz, NACLIP, WACV 2025 (arXiv:2404.08181); the '
           'official README (github.com/sinahmr/NACLIP), its default setup (PAMR on)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (PAMR on)')
