# CorrCLIP (training-free), MetaCLIP ViT-B/16 + DINO ViT-B/8 + SAM2 masks, context59.
# Published: 48.8 mIoU (CorrCLIP README, SAM2_32 ViT-B, column PC59).
# Evaluate: python tools/test.py configs/corrclip/corrclip_vit-b16_context59.py
# Official: CorrCLIPv1/configs/cfg_context59.py:4-7 (name_path, instance_mask_path).
# Class names: its configs/cls_context59.txt verbatim (vocabularies/corrclip_context59.txt);
# region masks: the official pre-generated SAM2 ones in data/region_masks/context/.
_base_ = [
    '../_base_/models/corrclip_vit-b16.py', '../_base_/datasets/ov_context59.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='corrclip_context59.txt',
             mask_generator=dict(folder='data/region_masks/context'))
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
protocol = dict(dataset='context59', published_miou=48.8)  # the rest: the model base
