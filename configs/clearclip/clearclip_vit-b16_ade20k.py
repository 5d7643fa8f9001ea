# ClearCLIP, CLIP ViT-B/16, training-free, on ade20k.
# Published (ClearCLIP, ECCV 2024, as tabulated by ResCLIP): 16.7 mIoU.
# Evaluate: python tools/test.py configs/clearclip/clearclip_vit-b16_ade20k.py
# Official settings: github.com/mc-lan/ClearCLIP configs/cfg_ade20k.py:5
#   (the defaults; short side 448: configs/cfg_ade20k.py:14).
# Class names: the official configs/cls_ade20k.txt, identical to langseg's (ProxyCLIP's) file.
_base_ = [
    '../_base_/models/clearclip_vit-b16.py', '../_base_/datasets/ov_ade20k.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_ade20k.txt')
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='ade20k',
    published_miou=16.7,
    source='Lan et al., ClearCLIP, ECCV 2024 (arXiv:2407.12442); the numbers as '
           'tabulated by ResCLIP (Yang et al., CVPR 2025)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config')
