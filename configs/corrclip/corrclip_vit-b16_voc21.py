# CorrCLIP (training-free), MetaCLIP ViT-B/16 + DINO ViT-B/8 + SAM2 masks, voc21.
# Published: 74.8 mIoU (CorrCLIP README, SAM2_32 ViT-B, column VOC21).
# Evaluate: python tools/test.py configs/corrclip/corrclip_vit-b16_voc21.py
# Official: CorrCLIPv1/configs/cfg_voc21.py:4-8 (name_path, instance_mask_path, prob_thd).
# Class names: its configs/cls_voc21.txt verbatim (vocabularies/corrclip_voc21.txt);
# region masks: the official pre-generated SAM2 ones in data/region_masks/voc/.
_base_ = [
    '../_base_/models/corrclip_vit-b16.py', '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='corrclip_voc21.txt',
             mask_generator=dict(folder='data/region_masks/voc'), prob_thd=0.2)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
protocol = dict(dataset='voc21', published_miou=74.8)  # the rest: the model base
