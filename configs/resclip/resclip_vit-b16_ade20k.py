# ResCLIP on NACLIP, CLIP ViT-B/16, training-free, on ade20k.
# Published (ResCLIP, CVPR 2025; the official README's results figure): 18.0 mIoU.
# Evaluate: python tools/test.py configs/resclip/resclip_vit-b16_ade20k.py
# Official settings: github.com/yvhangyang/ResCLIP configs/cfg_ade20k.py:5-9.
# Class names: the official configs/cls_ade20k.txt, identical to langseg's (ProxyCLIP's) file.
_base_ = [
    '../_base_/models/resclip_vit-b16.py', '../_base_/datasets/ov_ade20k.py',
    '../_base_/default_runtime.py'
]
model = dict(
    class_names='cls_ade20k.txt',
    temp_thd=0.25, rcs_weights=(2.0, 0.3), sfr_weights=(2.1, 0.7))
# Short side 336 (official configs/cfg_ade20k.py:18; the dataset base resizes to another).
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
    published_miou=18.0,
    source='Yang, Deng, Li and Duan, ResCLIP, CVPR 2025 (arXiv:2411.15851), results '
           'figure of the official README (github.com/yvhangyang/ResCLIP, '
           'figs/main_results_wo.png), row NACLIP + ResCLIP, ViT-B/16',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (resize, windows, '
          'thresholds, RCS / SFR weights above); the official runs use fp16 on CUDA')
