# NACLIP, CLIP ViT-B/16, training-free, with PAMR (the official default), on voc21.
# Published (NACLIP README, its default setup: PAMR on): 64.07 mIoU.
# Evaluate: python tools/test.py configs/naclip/naclip_vit-b16_voc21.py
# Official settings: github.com/sinahmr/NACLIP configs/cfg_voc21.py:6-7
#   (prob_thd=0.1, slide_crop=0; short side 336: configs/cfg_voc21.py:16).
# Class names: the official configs/cls_voc21.txt, byte for byte SCLIP's file
# (langseg/utils/vocabularies/sclip_voc21.txt).
_base_ = [
    '../_base_/models/naclip_vit-b16.py', '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='sclip_voc21.txt', prob_thd=0.1, slide_crop=0)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='voc21',
    published_miou=64.07,
    source='Hajimiri, Ben Ayed and Dolz, NACLIP, WACV 2025 (arXiv:2404.08181); the '
           'official README (github.com/sinahmr/NACLIP), its default setup (PAMR on)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (PAMR on)')
