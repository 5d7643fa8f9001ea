# SegCLIP zero-shot on cityscapes: Cityscapes 11.0 mIoU (Luo et al., ICML 2023, arXiv:2211.14813, text).
# Evaluate a pretraining checkpoint:
#   python tools/test.py configs/segclip/segclip_vit-b16_cityscapes.py work_dirs/segclip_vit-b16_8xb96-10e_cc3m-coco/epoch_10.pth
# Without a checkpoint it evaluates the CLIP-initialised model before pretraining.
# Short side 224 in the pipeline (mmcv Resize, bilinear, as the official evaluation), then
# 224 windows, stride 224, scores resized to the original image.
_base_ = [
    '../_base_/models/segclip_vit-b16.py', '../_base_/datasets/ov_cityscapes.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='rich_cityscapes.txt', background=False, short_side=None, bg_thresh=None)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 224), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='cityscapes',
    published_miou=11.0,
    source='Luo et al., ICML 2023 (arXiv:2211.14813), Table 4',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=True,
    weights={'model': 'a SegCLIP checkpoint'},
    notes='single-scale, whole test set, the settings of this config (resize, windows, thresholds above)')
# Test-time augmentation (tools/test.py --tta): short side x 0.75, 1, 1.25 of the setting
# above, each with and without a horizontal flip.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale=(2048, round(224 * r)), keep_ratio=True)
              for r in (0.75, 1.0, 1.25)],
             [dict(type='RandomFlip', prob=0., direction='horizontal'),
              dict(type='RandomFlip', prob=1., direction='horizontal')],
             [dict(type='LoadAnnotations')],
             [dict(type='PackSegInputs')],
         ]),
]
