# SCLIP, CLIP ViT-B/16, training-free, on context59.
# Published (SCLIP README, the official code's run): 34.46 mIoU (paper table as quoted by
# Trident: 34.2). Evaluate: python tools/test.py configs/sclip/sclip_vit-b16_context59.py
# Official settings: github.com/wangf3014/SCLIP configs/cfg_context59.py:5
#   (the defaults).
# Class names: the official configs/cls_context59.txt, identical to langseg's (ProxyCLIP's) file.
_base_ = [
    '../_base_/models/sclip_vit-b16.py', '../_base_/datasets/ov_context59.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_context59.txt')
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='context59',
    published_miou=34.46,
    source='Wang, Mei and Yuille, SCLIP, ECCV 2024 (arXiv:2312.01597); the official '
           'README (github.com/wangf3014/SCLIP), results of its default setup',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config; paper table (as quoted '
          'by Trident): 34.2')
