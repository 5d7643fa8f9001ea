# Semantic FPN (DenseCLIP baseline widths) on any timm model through TimmFeatureBackbone.
# Set backbone.model_name and neck.in_channels (the backbone's out_channels).
_base_ = './fpn_r50.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='TimmFeatureBackbone',
        model_name='legacy_xception',
        pretrained=True))
