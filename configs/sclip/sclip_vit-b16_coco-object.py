# SCLIP, CLIP ViT-B/16, training-free, on coco-object.
# Published (SCLIP README, the official code's run): 33.52 mIoU (paper table as quoted by
# Trident: 30.5). Evaluate: python tools/test.py configs/sclip/sclip_vit-b16_coco-object.py
# Official settings: github.com/wangf3014/SCLIP configs/cfg_coco_object.py:5-7
#   (logit_scale=50.0, prob_thd=0.1).
# Class names: the official configs/cls_coco_object.txt, verbatim as
# langseg/utils/vocabularies/sclip_coco_object.txt.
_base_ = [
    '../_base_/models/sclip_vit-b16.py', '../_base_/datasets/ov_coco-object.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='sclip_coco_object.txt', logit_scale=50.0, prob_thd=0.1)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='coco-object',
    published_miou=33.52,
    source='Wang, Mei and Yuille, SCLIP, ECCV 2024 (arXiv:2312.01597); the official '
           'README (github.com/wangf3014/SCLIP), results of its default setup',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config; paper table (as quoted '
          'by Trident): 30.5')
