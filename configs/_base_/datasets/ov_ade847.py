# Open-vocabulary evaluation (training-free methods): ADE20K-847 (ADE20K-full validation,
# 2000 images, 847 classes), as the official ProxyCLIP configs/cfg_ade847.py. Layout made by
# CAT-Seg's datasets/prepare_ade20k_full.py (see docs/methods/proxyclip.md, "ADE20K-847 and
# Pascal Context-459"); pipeline, evaluator and TTA in ov_16bit-labels_448.py.
_base_ = './ov_16bit-labels_448.py'
dataset_type = 'ADE20K847Dataset'
data_root = 'data/ADE20K_2021_17_01'
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images_detectron2/validation',
                         seg_map_path='annotations_detectron2/validation')))
val_dataloader = test_dataloader
