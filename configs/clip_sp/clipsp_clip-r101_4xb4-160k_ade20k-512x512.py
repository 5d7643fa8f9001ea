# CLIP-SP + Semantic FPN on CLIP RN101, ADE20K, 160k iterations, batch 16 (4 GPUs x 4).
# Published (Li et al., CVM 2024, doi:10.1007/s41095-024-0430-4, Table 1): 46.24 mIoU, 334 GFLOPs, 71 M params at 1024x1024.
# Before training, make the label co-occurrence prior of the text path:
#   python tools/compute_cooccurrence.py configs/clip_sp/clipsp_clip-r101_4xb4-160k_ade20k-512x512.py \
#       --out data/ade/ADEChallengeData2016/cooccurrence_train.npz
# The RN50 config with CLIP RN101 (image and text towers, same recipe).
_base_ = './clipsp_clip-r50_4xb4-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(arch='RN101'),
    text_encoder=dict(arch='RN101'))
# Protocol card (tools/reproduce.py): what a reproduction of this row must match.
protocol = dict(
    dataset='ade20k',
    published_miou=46.24,
    source='Li et al., CVM 2024 (doi:10.1007/s41095-024-0430-4), Table 1',
    tolerance=1.5,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=True,
    weights={'model': 'a trained checkpoint'},
    notes='single-scale sliding-window test after the published schedule (global batch as the config name: keep it with --gpus, docs/getting_started.md)')
