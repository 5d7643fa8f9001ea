# ClearCLIP, CLIP ViT-B/16, training-free, on cityscapes.
# Published (ClearCLIP, ECCV 2024, as tabulated by ResCLIP): 30.0 mIoU.
# Evaluate: python tools/test.py configs/clearclip/clearclip_vit-b16_cityscapes.py
# Official settings: github.com/mc-lan/ClearCLIP configs/cfg_city_scapes.py:6
#   (slide_crop=224; short side 448: configs/cfg_city_scapes.py:15).
# Class names: the official configs/cls_city_scapes.txt, identical to langseg's (ProxyCLIP's) file.
_base_ = [
    '../_base_/models/clearclip_vit-b16.py', '../_base_/datasets/ov_cityscapes.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_city_scapes.txt', slide_crop=224)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='cityscapes',
    published_miou=30.0,
    source='Lan et al., ClearCLIP, ECCV 2024 (arXiv:2407.12442); the numbers as '
           'tabulated by ResCLIP (Yang et al., CVPR 2025)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config')
