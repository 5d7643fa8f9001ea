# NACLIP, CLIP ViT-B/16, training-free, with PAMR (the official default), on voc20.
# Published (NACLIP README, its default setup: PAMR on): 83.03 mIoU.
# Evaluate: python tools/test.py configs/naclip/naclip_vit-b16_voc20.py
# Official settings: github.com/sinahmr/NACLIP configs/cfg_voc20.py:6
#   (slide_crop=0; short side 336: configs/cfg_voc20.py:15).
# Class names: the official configs/cls_voc20.txt, byte for byte SCLIP's file
# (langseg/utils/vocabularies/sclip_voc20.txt).
_base_ = [
    '../_base_/models/naclip_vit-b16.py', '../_base_/datasets/ov_voc20.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='sclip_voc20.txt', slide_crop=0)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='voc20',
    published_miou=83.03,
    source='Hajimiri, Ben Ayed and Dolz, NACLIP, WACV 2025 (arXiv:2404.08181); the '
           'official README (github.com/sinahmr/NACLIP), its default setup (PAMR on)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (PAMR on)')
