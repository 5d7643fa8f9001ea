# CorrCLIP (training-free), MetaCLIP ViT-B/16 + DINO ViT-B/8 + SAM2 masks, context60.
# Published: 44.2 mIoU (CorrCLIP README, SAM2_32 ViT-B, column PC60).
# Evaluate: python tools/test.py configs/corrclip/corrclip_vit-b16_context60.py
# Official: CorrCLIPv1/configs/cfg_context60.py:4-8 (name_path, instance_mask_path, prob_thd).
# Class names: its configs/cls_context60.txt verbatim (vocabularies/corrclip_context60.txt);
# region masks: the official pre-generated SAM2 ones in data/region_masks/context/.
_base_ = [
    '../_base_/models/corrclip_vit-b16.py', '../_base_/datasets/ov_context60.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='corrclip_context60.txt',
             mask_generator=dict(folder='data/region_masks/context'), prob_thd=0.15)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
protocol = dict(dataset='context60', published_miou=44.2)  # the rest: the model base
