# GLA-CLIP, CLIP ViT-B/16 + DINO ViT-B/8, training-free, on context59.
# Published (GLA-CLIP, CVPR 2026): 39.9 mIoU.
# Evaluate: python tools/test.py configs/glaclip/glaclip_vit-b16_context59.py
# Class names: the official configs/cls_context59.txt (ProxyCLIP's file, identical).
_base_ = [
    '../_base_/models/glaclip_vit-b16.py', '../_base_/datasets/ov_context59.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_context59.txt', prob_thd=0.0,  # cfg_context59.py: none, cfg.py:22
             slide_crop=224, slide_stride=112)  # cfg.py:38-39
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# cfg_context59.py:15: short side 336, as the dataset base.
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='context59',
    published_miou=39.9,
    source='Lee et al., CVPR 2026 (arXiv:2603.23030), project page table (2btlfe.github.io/GLA-CLIP)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'", 'vfm': 'timm vit_base_patch8_224.dino'},
    notes='single-scale, whole test set, the settings of this config (resize, windows, thresholds above)')
