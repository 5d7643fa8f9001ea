# SC-CLIP, CLIP ViT-B/16, training-free, on voc20.
# Published (SC-CLIP, arXiv:2411.15869; the official README's figure): 84.3 mIoU.
# Evaluate: python tools/test.py configs/scclip/scclip_vit-b16_voc20.py
# Official settings: github.com/SuleBai/SC-CLIP configs/cfg_voc20.py:5
#   (the defaults).
# Class names: the official configs/cls_voc20.txt, byte for byte SCLIP's file
# (langseg/utils/vocabularies/sclip_voc20.txt).
_base_ = [
    '../_base_/models/scclip_vit-b16.py', '../_base_/datasets/ov_voc20.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='sclip_voc20.txt')
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='voc20',
    published_miou=84.3,
    source='Bai, Liu, Han, Zhang and Tang, Self-Calibrated CLIP for Training-Free '
           'Open-Vocabulary Segmentation (arXiv:2411.15869); the official README figure '
           '(github.com/SuleBai/SC-CLIP, figs/scclip.jpg), CLIP ViT-B/16',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (resize, windows, '
          'thresholds above); the official runs use fp16 on CUDA')
