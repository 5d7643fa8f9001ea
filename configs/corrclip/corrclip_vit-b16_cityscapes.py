# CorrCLIP (training-free), MetaCLIP ViT-B/16 + DINO ViT-B/8 + SAM2 masks, cityscapes.
# Published: 49.4 mIoU (CorrCLIP README, SAM2_32 ViT-B, column City).
# Evaluate: python tools/test.py configs/corrclip/corrclip_vit-b16_cityscapes.py
# Official: CorrCLIPv1/configs/cfg_city_scapes.py:4-9:
#   name_path, instance_mask_path, slide_crop/stride.
# Class names: its configs/cls_city_scapes.txt verbatim (vocabularies/corrclip_city_scapes.txt);
# region masks: the official pre-generated SAM2 ones in data/region_masks/city/.
_base_ = [
    '../_base_/models/corrclip_vit-b16.py', '../_base_/datasets/ov_cityscapes.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='corrclip_city_scapes.txt',
             mask_generator=dict(folder='data/region_masks/city'),
             slide_crop=224, slide_stride=112)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
protocol = dict(dataset='cityscapes', published_miou=49.4)  # the rest: the model base
