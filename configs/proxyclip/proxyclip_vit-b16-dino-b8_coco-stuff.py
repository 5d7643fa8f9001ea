# ProxyCLIP, CLIP ViT-B/16 + DINO ViT-B/8, training-free, on coco-stuff.
# Published (ProxyCLIP, ECCV 2024): 26.5 mIoU (OpenCLIP ViT-H/14 + DINO: 26.8).
# Evaluate: python tools/test.py configs/proxyclip/proxyclip_vit-b16-dino-b8_coco-stuff.py
_base_ = [
    '../_base_/models/proxyclip_vit-b16_dino-b8.py', '../_base_/datasets/ov_coco-stuff.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_coco_stuff.txt', prob_thd=0.0, slide_crop=336, slide_stride=112)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='coco-stuff',
    published_miou=26.5,
    source='Lan et al., ECCV 2024 (arXiv:2408.04883), Table 1',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'", 'vfm': 'timm vit_base_patch8_224.dino'},
    notes='single-scale, whole test set, the settings of this config (resize, windows, thresholds above)')
