# ResCLIP on NACLIP, CLIP ViT-B/16, training-free, on context59.
# Published (ResCLIP, CVPR 2025; the official README's results figure): 36.8 mIoU.
# Evaluate: python tools/test.py configs/resclip/resclip_vit-b16_context59.py
# Official settings: github.com/yvhangyang/ResCLIP configs/cfg_context59.py:5-9.
# Class names: the official configs/cls_context59.txt, identical to langseg's (ProxyCLIP's) file.
_base_ = [
    '../_base_/models/resclip_vit-b16.py', '../_base_/datasets/ov_context59.py',
    '../_base_/default_runtime.py'
]
model = dict(
    class_names='cls_context59.txt',
    temp_thd=0.25, rcs_weights=(2.0, 0.4), sfr_weights=(1.8, 0.7))
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='context59',
    published_miou=36.8,
    source='Yang, Deng, Li and Duan, ResCLIP, CVPR 2025 (arXiv:2411.15851), results '
           'figure of the official README (github.com/yvhangyang/ResCLIP, '
           'figs/main_results_wo.png), row NACLIP + ResCLIP, ViT-B/16',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (resize, windows, '
          'thresholds, RCS / SFR weights above); the official runs use fp16 on CUDA')
