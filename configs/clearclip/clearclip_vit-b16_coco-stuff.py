# ClearCLIP, CLIP ViT-B/16, training-free, on coco-stuff.
# Published (ClearCLIP, ECCV 2024, as tabulated by ResCLIP): 23.9 mIoU.
# Evaluate: python tools/test.py configs/clearclip/clearclip_vit-b16_coco-stuff.py
# Official settings: github.com/mc-lan/ClearCLIP configs/cfg_coco_stuff164k.py:5
#   (the defaults; short side 448: configs/cfg_coco_stuff164k.py:14).
# Class names: the official configs/cls_coco_stuff.txt, identical to langseg's (ProxyCLIP's) file.
_base_ = [
    '../_base_/models/clearclip_vit-b16.py', '../_base_/datasets/ov_coco-stuff.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_coco_stuff.txt')
# Short side 448 (the dataset base resizes to 336).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='coco-stuff',
    published_miou=23.9,
    source='Lan et al., ClearCLIP, ECCV 2024 (arXiv:2407.12442); the numbers as '
           'tabulated by ResCLIP (Yang et al., CVPR 2025)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config')
