# ProxyCLIP with SAM ViT-B as the VFM (crop resized to 1024, neck output), COCO-Object
# (Fang's report, Table 2: 23.75 mIoU).
_base_ = './proxyclip_vit-b16-dino-b8_coco-object.py'
model = dict(vfm=dict(name='sam-b'))
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='coco-object',
    published_miou=23.75,
    source="Fang, 'Exploring Open-Vocabulary Semantic Segmentation with CLIP' (technical report)",
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'", 'vfm': 'timm samvit_base_patch16.sa1b'},
    notes='single-scale, whole test set, the settings of this config (resize, windows, thresholds above)')
