"""Record the official ClearCLIP code's outputs on seeded tiny weights, for
tests/test_zoo_clearclip.py (which rebuilds the weights and inputs from the same seeds).

    python tools/parity/record_clearclip.py /path/to/ClearCLIP
        [--out tests/data/parity/clearclip.pt]

``/path/to/ClearCLIP`` is a checkout of github.com/mc-lan/ClearCLIP (its ``open_clip/``
fork, ``clearclip_segmentor.py``, ``prompts/``); nothing of it is copied into langseg. The
official ``ClearCLIPSegmentation`` is built with ``clip_type='CLIP'`` and
``model_type='ClearCLIP'``, except that ``create_model`` returns the fork's ``CLIP`` with
langseg's tiny architecture (``tiny-vit``, QuickGELU: 4 blocks of width 32, 2 heads, patch
16, 64 px) and the seeded weights of ``tools/parity/clip_dense_parity.py``; its BLIP and
GEM imports (other models, unused) are stubbed. Recorded (fp32, CPU; the official
``predict`` casts to fp16, so its two steps ``forward_slide`` and ``postprocess_result``
are called in fp32): the window logits of ``forward_feature`` for a square and a
non-square batch of two windows (and, for the square one, with ``ignore_residual=False``
and with ``model_type='vanilla'``), and for two images of different sizes (not multiples
of the patch size: the windows are padded) the merged logits of ``forward_slide`` and the
probabilities and labels of ``postprocess_result`` with ``prob_thd`` 0 and 0.15.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
import tempfile
import types

import torch

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
SLIDE_CROP, SLIDE_STRIDE = 56, 28          # the tiny tower's scale of 448 / 224
IMAGE_SIZES = [(70, 100), (60, 45)]
SETTINGS = {'default': dict(prob_thd=0.0), 'thd': dict(prob_thd=0.15)}
VARIANTS = {'residual': dict(ignore_residual=False), 'vanilla': dict(model_type='vanilla')}


def seeded_weights() -> dict:
    """The seeded weights of langseg's tiny ClearCLIP (what the test builds)."""
    sys.path.insert(0, REPO)
    from tools.parity.clip_dense_parity import seeded_tiny_segmentor
    return seeded_tiny_segmentor('ClearCLIPSegmentor')[1]


def import_official(path: str):
    """The official segmentor module with ITS open_clip fork (not the installed one)."""
    for name in [n for n in sys.modules if n == 'open_clip' or n.startswith('open_clip.')]:
        del sys.modules[name]
    sys.path.insert(0, osp.abspath(path))
    for name in ('BLIP', 'BLIP.models', 'BLIP.models.blip_retrieval', 'gem'):
        stub = types.ModuleType(name)
        stub.blip_retrieval = None
        sys.modules[name] = stub
    import clearclip_segmentor
    import open_clip
    if not osp.abspath(open_clip.__file__).startswith(osp.abspath(path)):
        raise RuntimeError(f'imported {open_clip.__file__}, not the official fork')
    return clearclip_segmentor, open_clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('official', help='checkout of github.com/mc-lan/ClearCLIP')
    parser.add_argument('--out', default=osp.join(REPO, 'tests/data/parity/clearclip.pt'))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    state = seeded_weights()
    from tools.parity.clip_dense_parity import (image_inputs, official_names,
                                                openai_state_dict, subsample, window_inputs)
    official, open_clip = import_official(args.official)
    from mmseg.structures import SegDataSample

    net = open_clip.model.CLIP(
        embed_dim=32, quick_gelu=True,
        vision_cfg=dict(image_size=64, layers=4, width=32, patch_size=16, head_width=16),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2))
    missing, unexpected = net.load_state_dict(openai_state_dict(state), strict=False)
    if unexpected or [k for k in missing if k != 'logit_scale']:
        raise RuntimeError(f'weights do not fit: missing {missing}, unexpected {unexpected}')
    official.create_model = lambda *a, **k: net   # the official code creates its CLIP here

    mean = torch.tensor([122.771, 116.746, 104.094]).view(1, 3, 1, 1)
    std = torch.tensor([68.501, 66.632, 70.323]).view(1, 3, 1, 1)
    with tempfile.TemporaryDirectory() as tmp:
        names = osp.join(tmp, 'cls_parity.txt')
        with open(names, 'w') as f:
            f.write(official_names())

        def build(**cfg):
            cfg = dict(dict(model_type='ClearCLIP', ignore_residual=True), **cfg)
            return official.ClearCLIPSegmentation(
                clip_type='CLIP', vit_type='ViT-B/16', name_path=names,
                device=torch.device('cpu'), slide_stride=SLIDE_STRIDE,
                slide_crop=SLIDE_CROP, **cfg)

        segs = {key: build(**cfg) for key, cfg in SETTINGS.items()}
        variants = {key: build(**cfg) for key, cfg in VARIANTS.items()}
    record = {}
    seg = segs['default']
    windows = window_inputs()
    for i, batch in enumerate(windows):
        record[f'window_logits_{i}'] = subsample(seg.forward_feature((batch - mean) / std))
    for key, variant in variants.items():
        out = variant.forward_feature((windows[0] - mean) / std)
        record[f'{key}_window_logits_0'] = subsample(subsample(out))
    for key, seg in segs.items():
        for i, image in enumerate(image_inputs(sizes=IMAGE_SIZES)):
            x = (image[None] - mean) / std
            meta = dict(ori_shape=tuple(image.shape[-2:]), img_shape=tuple(image.shape[-2:]))
            merged = seg.forward_slide(x, [meta], SLIDE_STRIDE, SLIDE_CROP)
            if key == 'default':   # the merged logits do not depend on the threshold
                record[f'slide_logits_{i}'] = subsample(merged[0])
            sample = seg.postprocess_result(merged, [SegDataSample(metainfo=meta)])[0]
            record[f'{key}_probs_{i}'] = subsample(sample.seg_logits.data)
            record[f'{key}_labels_{i}'] = sample.pred_sem_seg.data[0].to(torch.uint8).clone()
    from tools.parity.clip_dense_parity import save_record
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    save_record(record, args.out)


if __name__ == '__main__':
    main()
