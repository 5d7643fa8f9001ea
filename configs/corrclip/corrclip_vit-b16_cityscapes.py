# CorrCLIP, MetaCLIP ViT-B/16 + DINO ViT-B/8 + SAM2 region masks, training-free, on cityscapes.
# Published: 49.4 mIoU (CorrCLIP README, 'SAM2_32' ViT-B row, column City).
# Evaluate: python tools/test.py configs/corrclip/corrclip_vit-b16_cityscapes.py
# Official: CorrCLIPv1/configs/cfg_city_scapes.py (name_path, instance_mask_path, slide_crop/slide_stride).
# Class names: the official configs/cls_city_scapes.txt, verbatim (langseg/utils/vocabularies/corrclip_city_scapes.txt).
# Region masks: the official pre-generated SAM2 masks, unzipped to data/region_masks/city/.
_base_ = [
    '../_base_/models/corrclip_vit-b16.py', '../_base_/datasets/ov_cityscapes.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='corrclip_city_scapes.txt',
             mask_generator=dict(folder='data/region_masks/city'),
             slide_crop=224, slide_stride=112)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='cityscapes',
    published_miou=49.4,
    source='Zhang, Liu and Tang, ICCV 2025 (arXiv:2411.10086); CorrCLIP README results table, SAM2_32, ViT-B',
    tolerance=1.0,
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16-quickgelu 'metaclip_fullcc'", 'vfm': 'timm vit_base_patch8_224.dino',
             'masks': 'official pre-generated SAM2 region masks (region_masks.zip, huggingface.co/datasets/dk258/CorrCLIP)'},
    notes='single-scale, whole test set; needs the official region masks in data/region_masks/ (other generators: docs/methods/corrclip.md)')
