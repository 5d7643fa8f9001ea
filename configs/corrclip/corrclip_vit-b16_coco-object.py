# CorrCLIP, MetaCLIP ViT-B/16 + DINO ViT-B/8 + SAM2 region masks, training-free, on coco-object.
# Published: 43.7 mIoU (CorrCLIP README, 'SAM2_32' ViT-B row, column Object).
# Evaluate: python tools/test.py configs/corrclip/corrclip_vit-b16_coco-object.py
# Official: CorrCLIPv1/configs/cfg_coco_object.py (name_path, instance_mask_path, prob_thd).
# Class names: the official configs/cls_coco_object.txt, verbatim (langseg/utils/vocabularies/corrclip_coco_object.txt).
# Region masks: the official pre-generated SAM2 masks, unzipped to data/region_masks/coco/.
_base_ = [
    '../_base_/models/corrclip_vit-b16.py', '../_base_/datasets/ov_coco-object.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='corrclip_coco_object.txt',
             mask_generator=dict(folder='data/region_masks/coco'), prob_thd=0.25)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='coco-object',
    published_miou=43.7,
    source='Zhang, Liu and Tang, ICCV 2025 (arXiv:2411.10086); CorrCLIP README results table, SAM2_32, ViT-B',
    tolerance=1.0,
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16-quickgelu 'metaclip_fullcc'", 'vfm': 'timm vit_base_patch8_224.dino',
             'masks': 'official pre-generated SAM2 region masks (region_masks.zip, huggingface.co/datasets/dk258/CorrCLIP)'},
    notes='single-scale, whole test set; needs the official region masks in data/region_masks/ (other generators: docs/methods/corrclip.md)')
