# MaskCLIP baseline in the ProxyCLIP segmentor: CLIP's last block reduced to its value path,
# no VFM (Fang's report, Table 1: MaskCLIP 12.51 mIoU on COCO-Stuff).
_base_ = './proxyclip_vit-b16-dino-b8_coco-stuff.py'
model = dict(attention='maskclip', vfm=None)
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='coco-stuff',
    published_miou=12.51,
    source="Fang, 'Exploring Open-Vocabulary Semantic Segmentation with CLIP' (technical report)",
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16 'openai'"},
    notes='single-scale, whole test set, the settings of this config (resize, windows, thresholds above)')
