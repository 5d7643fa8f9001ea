# SC-CLIP, CLIP ViT-B/16, training-free, on coco-object.
# Published (SC-CLIP, arXiv:2411.15869; the official README's figure): 37.7 mIoU.
# Evaluate: python tools/test.py configs/scclip/scclip_vit-b16_coco-object.py
# Official settings: github.com/SuleBai/SC-CLIP configs/cfg_coco_object.py:5-6
#   (logit_scale=55.0, prob_thd=0.35).
# Class names: the official configs/cls_coco_object.txt, byte for byte SCLIP's file
# (langseg/utils/vocabularies/sclip_coco_object.txt).
_base_ = [
    '../_base_/models/scclip_vit-b16.py', '../_base_/datasets/ov_coco-object.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='sclip_coco_object.txt', logit_scale=55.0, prob_thd=0.35)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='coco-object',
    published_miou=37.7,
    source='Bai, Liu, Han, Zhang and Tang, Self-Calibrated CLIP for Training-Free '
           'Open-Vocabulary Segmentation (arXiv:2411.15869); the official README figure '
           '(github.com/SuleBai/SC-CLIP, figs/scclip.jpg), CLIP ViT-B/16',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (resize, windows, '
          'thresholds above); the official runs use fp16 on CUDA')
