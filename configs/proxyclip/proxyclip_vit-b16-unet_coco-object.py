# ProxyCLIP with a UNet as the VFM (Fang's report, Sec. 3.2): the output of the UNet's
# second-to-last decoder stage through ModuleLayerVFM. mmseg's UNet with random weights
# unless `checkpoint` names a file (the paper's was trained on Carvana; results were poor).
_base_ = './proxyclip_vit-b16-dino-b8_coco-object.py'
model = dict(vfm=dict(
    _delete_=True,
    type='ModuleLayerVFM',
    module=dict(type='UNet', in_channels=3, base_channels=64, num_stages=5,
                norm_cfg=dict(type='BN', requires_grad=False)),
    layer='decoder.1',
    checkpoint=None))
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='coco-object',
    published_miou=None,
    source='Fang, \'Exploring Open-Vocabulary Semantic Segmentation with CLIP\' (technical report) ("suboptimal", no number)',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=True,
    weights={'clip': "open_clip ViT-B-16 'openai'", 'vfm': 'mmseg UNet (your checkpoint)'},
    notes='single-scale, whole test set, the settings of this config (resize, windows, thresholds above)')
