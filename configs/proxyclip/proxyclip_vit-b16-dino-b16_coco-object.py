# ProxyCLIP with DINO ViT-B/16 as the VFM, COCO-Object (Fang's report, Table 2: 36.25 mIoU).
_base_ = './proxyclip_vit-b16-dino-b8_coco-object.py'
model = dict(vfm=dict(name='dino-b16'))
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='coco-object',
    published_miou=36.25,
    source="Fang, 'Exploring Open-Vocabulary Semantic Segmentation with CLIP' (technical report)",
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'", 'vfm': 'timm vit_base_patch16_224.dino'},
    notes='single-scale, whole test set, the settings of this config (resize, windows, thresholds above)')
