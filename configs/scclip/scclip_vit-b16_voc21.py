# SC-CLIP, CLIP ViT-B/16, training-free, on voc21.
# Published (SC-CLIP, arXiv:2411.15869; the official README's figure): 64.6 mIoU.
# Evaluate: python tools/test.py configs/scclip/scclip_vit-b16_voc21.py
# Official settings: github.com/SuleBai/SC-CLIP configs/cfg_voc21.py:5-7
#   (area_thd=0.1, logit_scale=50.0, prob_thd=0.15).
# Class names: the official configs/cls_voc21.txt, byte for byte SCLIP's file
# (langseg/utils/vocabularies/sclip_voc21.txt).
_base_ = [
    '../_base_/models/scclip_vit-b16.py', '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='sclip_voc21.txt', area_thd=0.1, logit_scale=50.0, prob_thd=0.15)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='voc21',
    published_miou=64.6,
    source='Bai, Liu, Han, Zhang and Tang, Self-Calibrated CLIP for Training-Free '
           'Open-Vocabulary Segmentation (arXiv:2411.15869); the official README figure '
           '(github.com/SuleBai/SC-CLIP, figs/scclip.jpg), CLIP ViT-B/16',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (resize, windows, '
          'thresholds above); the official runs use fp16 on CUDA')
