# Open-vocabulary evaluation (training-free methods): Pascal Context-459 (VOC 2010 val,
# 459 classes), as the official ProxyCLIP configs/cfg_context459.py: short side 448 (ground
# truth kept at its native size), batch 1. Masks made by CAT-Seg's
# datasets/prepare_pascal_context_459.py (see docs/methods/proxyclip.md, "ADE20K-847 and
# Pascal Context-459"): 16-bit TIFF labels, read by LoadAnnotations16.
dataset_type = 'PascalContext459Dataset'
data_root = 'data/VOCdevkit/VOC2010'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations16'),
    dict(type='PackSegInputs')
]
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages',
                         seg_map_path='annotations_detectron2/pc459_val'),
        ann_file='ImageSets/SegmentationContext/val.txt',
        pipeline=test_pipeline))
val_dataloader = test_dataloader
# 65535 = unlabelled (the official evaluator keeps mmseg's default 255, which drops class
# 255; see docs/methods/proxyclip.md).
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=65535)
val_evaluator = test_evaluator
# Test-time augmentation (tools/test.py --tta): short side x 0.75, 1, 1.25 of the setting
# above, each with and without a horizontal flip; 16-bit labels as in test_pipeline.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale=(2048, round(448 * r)), keep_ratio=True)
              for r in (0.75, 1.0, 1.25)],
             [dict(type='RandomFlip', prob=0., direction='horizontal'),
              dict(type='RandomFlip', prob=1., direction='horizontal')],
             [dict(type='LoadAnnotations16')],
             [dict(type='PackSegInputs')],
         ]),
]
