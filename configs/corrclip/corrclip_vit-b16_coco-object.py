# CorrCLIP (training-free), MetaCLIP ViT-B/16 + DINO ViT-B/8 + SAM2 masks, coco-object.
# Published: 43.7 mIoU (CorrCLIP README, SAM2_32 ViT-B, column Object).
# Evaluate: python tools/test.py configs/corrclip/corrclip_vit-b16_coco-object.py
# Official: CorrCLIPv1/configs/cfg_coco_object.py:4-8 (name_path, instance_mask_path, prob_thd).
# Class names: its configs/cls_coco_object.txt verbatim (vocabularies/corrclip_coco_object.txt);
# region masks: the official pre-generated SAM2 ones in data/region_masks/coco/.
_base_ = [
    '../_base_/models/corrclip_vit-b16.py', '../_base_/datasets/ov_coco-object.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='corrclip_coco_object.txt',
             mask_generator=dict(folder='data/region_masks/coco'), prob_thd=0.25)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
protocol = dict(dataset='coco-object', published_miou=43.7)  # the rest: the model base
