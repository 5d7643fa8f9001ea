# Open-vocabulary evaluation (training-free methods): Pascal Context-459 (VOC 2010 val,
# 459 classes), as the official ProxyCLIP configs/cfg_context459.py. Masks made by
# CAT-Seg's datasets/prepare_pascal_context_459.py (see docs/methods/proxyclip.md,
# "ADE20K-847 and Pascal Context-459"); pipeline, evaluator and TTA in
# ov_16bit-labels_448.py.
_base_ = './ov_16bit-labels_448.py'
dataset_type = 'PascalContext459Dataset'
data_root = 'data/VOCdevkit/VOC2010'
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages',
                         seg_map_path='annotations_detectron2/pc459_val'),
        ann_file='ImageSets/SegmentationContext/val.txt'))
val_dataloader = test_dataloader
