# ResCLIP on NACLIP, CLIP ViT-B/16, training-free, on voc20.
# Published (ResCLIP, CVPR 2025; the official README's results figure): 86.0 mIoU.
# Evaluate: python tools/test.py configs/resclip/resclip_vit-b16_voc20.py
# Official settings: github.com/yvhangyang/ResCLIP configs/cfg_voc20.py:5-10.
# slide_crop=0: each image is one window.
# Class names: the official configs/cls_voc20.txt, byte for byte SCLIP's file
# (langseg/utils/vocabularies/sclip_voc20.txt).
_base_ = [
    '../_base_/models/resclip_vit-b16.py', '../_base_/datasets/ov_voc20.py',
    '../_base_/default_runtime.py'
]
model = dict(
    class_names='sclip_voc20.txt',
    slide_crop=0, temp_thd=0.1, rcs_weights=(2.0, 0.6), sfr_weights=(2.1, 0.6))
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='voc20',
    published_miou=86.0,
    source='Yang, Deng, Li and Duan, ResCLIP, CVPR 2025 (arXiv:2411.15851), results '
           'figure of the official README (github.com/yvhangyang/ResCLIP, '
           'figs/main_results_wo.png), row NACLIP + ResCLIP, ViT-B/16',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (resize, windows, '
          'thresholds, RCS / SFR weights above); the official runs use fp16 on CUDA')
