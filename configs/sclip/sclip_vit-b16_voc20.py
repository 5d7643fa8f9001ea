# SCLIP, CLIP ViT-B/16, training-free, on voc20.
# Published (SCLIP README, the official code's run): 81.54 mIoU (paper table as quoted by
# Trident: 80.4). Evaluate: python tools/test.py configs/sclip/sclip_vit-b16_voc20.py
# Official settings: github.com/wangf3014/SCLIP configs/cfg_voc20.py:5
#   (the defaults).
# Class names: the official configs/cls_voc20.txt, verbatim as
# langseg/utils/vocabularies/sclip_voc20.txt.
_base_ = [
    '../_base_/models/sclip_vit-b16.py', '../_base_/datasets/ov_voc20.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='sclip_voc20.txt')
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='voc20',
    published_miou=81.54,
    source='Wang, Mei and Yuille, SCLIP, ECCV 2024 (arXiv:2312.01597); the official '
           'README (github.com/wangf3014/SCLIP), results of its default setup',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config; paper table (as quoted '
          'by Trident): 80.4')
