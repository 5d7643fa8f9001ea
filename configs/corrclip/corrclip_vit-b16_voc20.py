# CorrCLIP (training-free), MetaCLIP ViT-B/16 + DINO ViT-B/8 + SAM2 masks, voc20.
# Published: 88.8 mIoU (CorrCLIP README, SAM2_32 ViT-B, column VOC20).
# Evaluate: python tools/test.py configs/corrclip/corrclip_vit-b16_voc20.py
# Official: CorrCLIPv1/configs/cfg_voc20.py:4-7 (name_path, instance_mask_path).
# Class names: its configs/cls_voc20.txt verbatim (vocabularies/corrclip_voc20.txt);
# region masks: the official pre-generated SAM2 ones in data/region_masks/voc/.
_base_ = [
    '../_base_/models/corrclip_vit-b16.py', '../_base_/datasets/ov_voc20.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='corrclip_voc20.txt',
             mask_generator=dict(folder='data/region_masks/voc'))
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
protocol = dict(dataset='voc20', published_miou=88.8)  # the rest: the model base
