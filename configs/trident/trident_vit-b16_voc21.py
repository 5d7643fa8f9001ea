# Trident, CLIP ViT-B/16 + DINO ViT-B/16 + SAM ViT-B, training-free, on voc21.
# Published (Trident, ICCV 2025, with its SAM refinement, as this config runs): 67.1 mIoU.
# Evaluate: python tools/test.py configs/trident/trident_vit-b16_voc21.py
# Class names: the official configs/cls_voc21.txt (ProxyCLIP's file, byte for byte).
_base_ = [
    '../_base_/models/trident_vit-b16.py', '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime.py'
]
# cfg_voc21.py:6-7
model = dict(class_names='cls_voc21.txt', prob_thd=0.2, coarse_thresh=0.2)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# cfg_voc21.py:16: short side 448 (the dataset base's is 336)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale=(2048, round(448 * r)), keep_ratio=True)
              for r in (0.75, 1.0, 1.25)],
             [dict(type='RandomFlip', prob=0., direction='horizontal'),
              dict(type='RandomFlip', prob=1., direction='horizontal')],
             [dict(type='LoadAnnotations')],
             [dict(type='PackSegInputs')],
         ]),
]
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='voc21',
    published_miou=67.1,
    source='Shi, Dong and Xu, ICCV 2025 (arXiv:2411.09219), main results table',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'", 'vfm': 'timm vit_base_patch16_224.dino',
             'sam': 'timm samvit_base_patch16.sa1b',
             'sam_decoder': 'checkpoints/sam_vit_b_01ec64.pth (official SAM ViT-B, local)'},
    notes='the official eval.py --sam_refine path of the published numbers (prompt-based '
          'SAM refinement; needs checkpoints/sam_vit_b_01ec64.pth, the official SAM ViT-B '
          'checkpoint, for its prompt encoder and mask decoder); single-scale, whole test set')
