# ProxyCLIP with a UNet as the VFM (paper 004, Sec. 3.2): the output of the UNet's
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
