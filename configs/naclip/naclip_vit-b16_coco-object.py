# NACLIP, CLIP ViT-B/16, training-free, with PAMR (the official default), on coco-object.
# Published (NACLIP README, its default setup: PAMR on): 36.19 mIoU.
# Evaluate: python tools/test.py configs/naclip/naclip_vit-b16_coco-object.py
# Official settings: github.com/sinahmr/NACLIP configs/cfg_coco_object.py:6
#   (prob_thd=0.1; short side 336: configs/cfg_coco_object.py:15).
# Class names: the official configs/cls_coco_object.txt, byte for byte SCLIP's file
# (langseg/utils/vocabularies/sclip_coco_object.txt).
_base_ = [
    '../_base_/models/naclip_vit-b16.py', '../_base_/datasets/ov_coco-object.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='sclip_coco_object.txt', prob_thd=0.1)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='coco-object',
    published_miou=36.19,
    source='Hajimiri, Ben Ayed and Dolz, NACLIP, WACV 2025 (arXiv:2404.08181); the '
           'official README (github.com/sinahmr/NACLIP), its default setup (PAMR on)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (PAMR on)')
