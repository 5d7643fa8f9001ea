# ProxyCLIP with OpenCLIP ViT-H/14 (LAION-2B) + DINO ViT-B/8, VOC21 (published 65.0 mIoU).
_base_ = './proxyclip_vit-b16-dino-b8_voc21.py'
model = dict(clip=dict(arch='ViT-H-14', pretrained='laion2b_s32b_b79k'), prob_thd=0.2)
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='voc21',
    published_miou=65.0,
    source='Lan et al., ECCV 2024 (arXiv:2408.04883), Table 1',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-H-14 'laion2b_s32b_b79k'", 'vfm': 'timm vit_base_patch8_224.dino'},
    notes='single-scale, whole test set, the settings of this config (resize, windows, thresholds above)')
