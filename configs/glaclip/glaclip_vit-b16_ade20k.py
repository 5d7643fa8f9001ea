# GLA-CLIP, CLIP ViT-B/16 + DINO ViT-B/8, training-free, on ade20k.
# Published (GLA-CLIP, CVPR 2026): 20.0 mIoU.
# Evaluate: python tools/test.py configs/glaclip/glaclip_vit-b16_ade20k.py
# Class names: the official configs/cls_ade20k.txt (ProxyCLIP's file, identical).
_base_ = [
    '../_base_/models/glaclip_vit-b16.py', '../_base_/datasets/ov_ade20k.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='cls_ade20k.txt', prob_thd=0.0,  # cfg_ade20k.py: none, cfg.py:22
             slide_crop=224, slide_stride=112)  # cfg.py:38-39
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# cfg_ade20k.py:15: short side 336 (the dataset base's is 448)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale=(2048, round(336 * r)), keep_ratio=True)
              for r in (0.75, 1.0, 1.25)],
             [dict(type='RandomFlip', prob=0., direction='horizontal'),
              dict(type='RandomFlip', prob=1., direction='horizontal')],
             [dict(type='LoadAnnotations')],
             [dict(type='PackSegInputs')],
         ]),
]
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='ade20k',
    published_miou=20.0,
    source='Lee et al., CVPR 2026 (arXiv:2603.23030), project page table (2btlfe.github.io/GLA-CLIP)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'", 'vfm': 'timm vit_base_patch8_224.dino'},
    notes='single-scale, whole test set, the settings of this config (resize, windows, thresholds above)')
