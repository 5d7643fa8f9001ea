# ProxyCLIP, CLIP ViT-B/16 + DINO ViT-B/8, training-free, on voc21.
# Published (ProxyCLIP, ECCV 2024): 61.3 mIoU (OpenCLIP ViT-H/14 + DINO: 65.0).
# Evaluate: python tools/test.py configs/proxyclip/proxyclip_vit-b16-dino-b8_voc21.py
# prob_thd 0.2: the active value of the official configs/cfg_voc21.py:6 for ProxyCLIP with
# ViT-B/16 (its comment `0.2 OURS 0.1 CLIP-B/16`: 0.1 is the plain-CLIP baseline's).
# Class names: the official configs/cls_voc21.txt, verbatim (langseg/utils/vocabularies/).
_base_ = [
    '../_base_/models/proxyclip_vit-b16_dino-b8.py', '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_voc21.txt', prob_thd=0.2, slide_crop=336, slide_stride=112)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='voc21',
    published_miou=61.3,
    source='Lan et al., ECCV 2024 (arXiv:2408.04883), Table 1',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'", 'vfm': 'timm vit_base_patch8_224.dino'},
    notes='single-scale, whole test set, the settings of this config (resize, windows, thresholds above)')
