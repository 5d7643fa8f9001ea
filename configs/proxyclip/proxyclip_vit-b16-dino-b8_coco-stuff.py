# ProxyCLIP, CLIP ViT-B/16 + DINO ViT-B/8, training-free, on coco-stuff.
# Published (ProxyCLIP, ECCV 2024): 26.5 mIoU (OpenCLIP ViT-H/14 + DINO: 26.8).
# Evaluate: python tools/test.py configs/proxyclip/proxyclip_vit-b16-dino-b8_coco-stuff.py
_base_ = [
    '../_base_/models/proxyclip_vit-b16_dino-b8.py', '../_base_/datasets/ov_coco-stuff.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='coco_stuff.txt', prob_thd=0.0, slide_crop=336, slide_stride=112)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
