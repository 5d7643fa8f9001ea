# CorrCLIP (training-free), MetaCLIP ViT-B/16 + DINO ViT-B/8 + SAM2 masks, ade20k.
# Published: 26.9 mIoU (CorrCLIP README, SAM2_32 ViT-B, column ADE).
# Evaluate: python tools/test.py configs/corrclip/corrclip_vit-b16_ade20k.py
# Official: CorrCLIPv1/configs/cfg_ade20k.py:4-7 (name_path, instance_mask_path).
# Class names: its configs/cls_ade20k.txt verbatim (vocabularies/corrclip_ade20k.txt);
# region masks: the official pre-generated SAM2 ones in data/region_masks/ade/.
_base_ = [
    '../_base_/models/corrclip_vit-b16.py', '../_base_/datasets/ov_ade20k.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='corrclip_ade20k.txt',
             mask_generator=dict(folder='data/region_masks/ade'))
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
protocol = dict(dataset='ade20k', published_miou=26.9)  # the rest: the model base
