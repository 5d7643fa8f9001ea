# DenseCLIP + Semantic FPN on CLIP RN101, ADE20K.
# Conv-Former paper Table 2: 45.1 mIoU.
# DenseCLIP README: 45.1 mIoU, 346.3 GFLOPs, 67.8 M params at 1024x1024.
# Context decoder (3 x 256, 4 heads), gamma 1e-4, 8 learnable contexts, identity loss
# (tau 0.07, weight 0.4); see docs/methods/denseclip.md.
# The RN50 config with CLIP RN101 (image and text towers, same recipe).
_base_ = './denseclip_clip-r50_8xb4-80k_ade20k-512x512.py'
model = dict(
    backbone=dict(arch='RN101'),
    text_encoder=dict(arch='RN101'))
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='ade20k',
    published_miou=45.1,
    source='Rao et al., CVPR 2022 (arXiv:2112.01518) / DenseCLIP README',
    tolerance=1.5,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=True,
    weights={'model': 'a trained checkpoint'},
    notes='single-scale sliding-window test after the published schedule (global batch as the config name: keep it with --gpus, docs/getting_started.md)')
