# CorrCLIP (training-free), MetaCLIP ViT-B/16 + DINO ViT-B/8 + SAM2 masks, coco-stuff.
# Published: 31.6 mIoU (CorrCLIP README, SAM2_32 ViT-B, column Stuff).
# Evaluate: python tools/test.py configs/corrclip/corrclip_vit-b16_coco-stuff.py
# Official: CorrCLIPv1/configs/cfg_coco_stuff164k.py:4-7 (name_path, instance_mask_path).
# Class names: its configs/cls_coco_stuff.txt verbatim (vocabularies/corrclip_coco_stuff.txt);
# region masks: the official pre-generated SAM2 ones in data/region_masks/coco/.
_base_ = [
    '../_base_/models/corrclip_vit-b16.py', '../_base_/datasets/ov_coco-stuff.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='corrclip_coco_stuff.txt',
             mask_generator=dict(folder='data/region_masks/coco'))
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
protocol = dict(dataset='coco-stuff', published_miou=31.6)  # the rest: the model base
