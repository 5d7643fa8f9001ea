# SCLIP, CLIP ViT-B/16, training-free, on coco-stuff.
# Published (SCLIP README, the official code's run): 22.77 mIoU (paper table as quoted by
# Trident: 22.4). Evaluate: python tools/test.py configs/sclip/sclip_vit-b16_coco-stuff.py
# Official settings: github.com/wangf3014/SCLIP configs/cfg_coco_stuff164k.py:5
#   (the defaults).
# Class names: the official configs/cls_coco_stuff.txt, identical to langseg's (ProxyCLIP's) file.
_base_ = [
    '../_base_/models/sclip_vit-b16.py', '../_base_/datasets/ov_coco-stuff.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_coco_stuff.txt')
# Short side 448 (official configs/cfg_coco_stuff164k.py:14; the dataset base resizes to another).
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
    published_miou=22.77,
    source='Wang, Mei and Yuille, SCLIP, ECCV 2024 (arXiv:2312.01597); the official '
           'README (github.com/wangf3014/SCLIP), results of its default setup',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config; paper table (as quoted '
          'by Trident): 22.4')
