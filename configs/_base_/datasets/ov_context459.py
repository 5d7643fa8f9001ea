# Open-vocabulary evaluation (training-free methods): Pascal Context-459 (VOC 2010 val,
# 459 classes), as the official ProxyCLIP configs/cfg_context459.py. Masks made by
# CAT-Seg's datasets/prepare_pascal_context_459.py (see docs/methods/proxyclip.md,
# "ADE20K-847 and Pascal Context-459"); evaluator in
# ov_16bit-labels_448.py.
_base_ = './ov_16bit-labels_448.py'
dataset_type = 'PascalContext459Dataset'
data_root = 'data/VOCdevkit/VOC2010'
# Short side 448, ground truth at its native size; the label loader checks every value
# is one of the 459 classes or 65535 (unlabelled).
test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations16', num_classes=459, ignore_index=65535,
         invalid_labels='error'),
    dict(type='PackSegInputs')
]
# Test-time augmentation (tools/test.py --tta): short side x 0.75, 1, 1.25 of the setting
# above, each with and without a horizontal flip; 16-bit labels as in test_pipeline.
tta_pipeline = [
    dict(type='CheckedLoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale=(2048, round(448 * r)), keep_ratio=True)
              for r in (0.75, 1.0, 1.25)],
             [dict(type='RandomFlip', prob=0., direction='horizontal'),
              dict(type='RandomFlip', prob=1., direction='horizontal')],
             [dict(type='LoadAnnotations16', num_classes=459, ignore_index=65535,
                   invalid_labels='error')],
             [dict(type='PackSegInputs')],
         ]),
]
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        pipeline=test_pipeline,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages',
                         seg_map_path='annotations_detectron2/pc459_val'),
        ann_file='ImageSets/SegmentationContext/val.txt'))
val_dataloader = test_dataloader
