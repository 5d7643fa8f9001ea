# Shared part of the open-vocabulary benchmarks with 16-bit label maps (ADE20K-847, Pascal
# Context-459; the official ProxyCLIP configs/cfg_ade847.py and cfg_context459.py): short
# side 448 (ground truth kept at its native size), batch 1, TIFF labels read by
# LoadAnnotations16, 65535 = unlabelled. The benchmark files (ov_ade847.py,
# ov_context459.py) add the dataset type, root and folders.
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
    dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
# 65535 = unlabelled (the official evaluator keeps mmseg's default 255, which drops class
# 255 and scores unlabelled pixels: a defect, see docs/methods/proxyclip.md).
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
