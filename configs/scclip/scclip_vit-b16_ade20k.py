# SC-CLIP, CLIP ViT-B/16, training-free, on ade20k.
# Published (SC-CLIP, arXiv:2411.15869; the official README's figure): 20.1 mIoU.
# Evaluate: python tools/test.py configs/scclip/scclip_vit-b16_ade20k.py
# Official settings: github.com/SuleBai/SC-CLIP configs/cfg_ade20k.py:5
#   (the defaults).
# Class names: the official configs/cls_ade20k.txt, identical to langseg's (ProxyCLIP's) file.
_base_ = [
    '../_base_/models/scclip_vit-b16.py', '../_base_/datasets/ov_ade20k.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_ade20k.txt')
# Short side 336 (official configs/cfg_ade20k.py:14; the dataset base resizes to another).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='ade20k',
    published_miou=20.1,
    source='Bai, Liu, Han, Zhang and Tang, Self-Calibrated CLIP for Training-Free '
           'Open-Vocabulary Segmentation (arXiv:2411.15869); the official README figure '
           '(github.com/SuleBai/SC-CLIP, figs/scclip.jpg), CLIP ViT-B/16',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (resize, windows, '
          'thresholds above); the official runs use fp16 on CUDA')
