# GLA-CLIP, CLIP ViT-B/16 + DINO ViT-B/8, training-free, on coco-object.
# Published (GLA-CLIP, CVPR 2026): 37.7 mIoU.
# Evaluate: python tools/test.py configs/glaclip/glaclip_vit-b16_coco-object.py
# Class names: the official configs/cls_coco_object.txt, verbatim
# (differs from ProxyCLIP's: more background words, person synonyms).
_base_ = [
    '../_base_/models/glaclip_vit-b16.py', '../_base_/datasets/ov_coco-object.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='glaclip_coco_object.txt', prob_thd=0.1,  # cfg_coco_object.py:6
             slide_crop=224, slide_stride=112)  # cfg.py:38-39
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# cfg_coco_object.py:16: short side 336, as the dataset base.
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='coco-object',
    published_miou=37.7,
    source='Lee et al., CVPR 2026 (arXiv:2603.23030), project page table (2btlfe.github.io/GLA-CLIP)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'", 'vfm': 'timm vit_base_patch8_224.dino'},
    notes='single-scale, whole test set, the settings of this config (resize, windows, thresholds above)')
