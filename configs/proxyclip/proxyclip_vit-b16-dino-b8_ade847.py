# ProxyCLIP, CLIP ViT-B/16 + DINO ViT-B/8, training-free, on ade847, as the official
# configs/cfg_ade847.py: class names cls_ade20k847.txt (verbatim), short side 448,
# windows 336/112, prob_thd 0 (the official defaults).
# Published: none (the ProxyCLIP paper reports no ade847 number; its repository ships the
# config). Evaluate: python tools/test.py configs/proxyclip/proxyclip_vit-b16-dino-b8_ade847.py
_base_ = [
    '../_base_/models/proxyclip_vit-b16_dino-b8.py', '../_base_/datasets/ov_ade847.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_ade20k847.txt', prob_thd=0.0, slide_crop=336, slide_stride=112)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='ade847',
    published_miou=None,
    source='no published number: Lan et al., ECCV 2024 (arXiv:2408.04883) report none for '
           'ade847; the official repository (github.com/mc-lan/ProxyCLIP) ships the config',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'", 'vfm': 'timm vit_base_patch8_224.dino'},
    notes='single-scale, whole test set, the settings of this config (resize, windows, thresholds above)')
