# Open-vocabulary evaluation (training-free methods): ADE20K-847 (ADE20K-full validation,
# 2000 images, 847 classes), as the official ProxyCLIP configs/cfg_ade847.py. Layout made by
# CAT-Seg's datasets/prepare_ade20k_full.py (see docs/methods/proxyclip.md, "ADE20K-847 and
# Pascal Context-459"); evaluator in ov_16bit-labels_448.py.
_base_ = './ov_16bit-labels_448.py'
dataset_type = 'ADE20K847Dataset'
data_root = 'data/ADE20K_2021_17_01'
# Short side 448, ground truth at its native size; the label loader checks every value
# is one of the 847 classes or 65535 (unlabelled).
test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations16', num_classes=847, ignore_index=65535,
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
             [dict(type='LoadAnnotations16', num_classes=847, ignore_index=65535,
                   invalid_labels='error')],
             [dict(type='PackSegInputs')],
         ]),
]
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        pipeline=test_pipeline,
        data_root=data_root,
        data_prefix=dict(img_path='images_detectron2/validation',
                         seg_map_path='annotations_detectron2/validation')))
val_dataloader = test_dataloader
