# NACLIP, CLIP ViT-B/16, training-free, with PAMR (the official default), on coco-stuff.
# Published (NACLIP README, its default setup: PAMR on): 25.69 mIoU.
# Evaluate: python tools/test.py configs/naclip/naclip_vit-b16_coco-stuff.py
# Official settings: github.com/sinahmr/NACLIP configs/cfg_coco_stuff164k.py:5
#   (the defaults; short side 336: configs/cfg_coco_stuff164k.py:14).
# Class names: the official configs/cls_coco_stuff.txt, identical to langseg's (ProxyCLIP's) file.
_base_ = [
    '../_base_/models/naclip_vit-b16.py', '../_base_/datasets/ov_coco-stuff.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_coco_stuff.txt')
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='coco-stuff',
    published_miou=25.69,
    source='Hajimiri, Ben Ayed and Dolz, NACLIP, WACV 2025 (arXiv:2404.08181); the '
           'official README (github.com/sinahmr/NACLIP), its default setup (PAMR on)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (PAMR on)')
