"""Record the official NACLIP code's outputs on seeded tiny weights, for
tests/test_zoo_naclip.py (which rebuilds the weights and inputs from the same seeds).

    python tools/parity/record_naclip.py /path/to/NACLIP [--out tests/data/parity/naclip.pt]

``/path/to/NACLIP`` is a checkout of github.com/sinahmr/NACLIP (its ``clip/``,
``naclip.py``, ``prompts/``, ``pamr.py``); nothing of it is copied into langseg. The
official ``NACLIP`` segmentor is built as its configs build it, except that ``clip.load``
returns OpenAI's ``CLIP`` of the official ``clip/model.py`` holding langseg's tiny
architecture (``tiny-vit``, QuickGELU: 4 blocks of width 32, 2 heads, patch 16, 64 px)
with the seeded weights of ``tools/parity/clip_dense_parity.py``. Recorded (fp32, CPU):
the window logits of ``forward_feature`` for a square and a non-square batch of two
windows with the official defaults (``arch='reduced'``, ``attn_strategy='naclip'``,
``gaussian_std=5``) and, for the square one, with other options (:data:`VARIANTS`); for
two images of different sizes the merged logits of ``forward_slide`` and the
probabilities and labels of ``predict`` with the default PAMR, without PAMR and
``prob_thd`` 0.1, and with ``slide_crop=0`` (whole images). Maps keep every second (window
logits, merged logits: every fourth) row and column; labels are whole.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
import tempfile

import torch

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
SETTINGS = {'default': dict(), 'nopamr': dict(pamr_steps=0, prob_thd=0.1),
            'whole': dict(slide_crop=0)}
VARIANTS = {'std1': dict(gaussian_std=1.0), 'kk': dict(attn_strategy='kk'),
            'vanilla_arch': dict(arch='vanilla'),
            'csa': dict(arch='vanilla', attn_strategy='csa'),
            'vanilla_attn': dict(attn_strategy='vanilla')}


def seeded_weights() -> dict:
    """The seeded weights of langseg's tiny NACLIP (what the test builds)."""
    sys.path.insert(0, REPO)
    from tools.parity.clip_dense_parity import seeded_tiny_segmentor
    return seeded_tiny_segmentor('NACLIPSegmentor')[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('official', help='checkout of github.com/sinahmr/NACLIP')
    parser.add_argument('--out', default=osp.join(REPO, 'tests/data/parity/naclip.pt'))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    state = seeded_weights()
    from tools.parity.clip_dense_parity import (SLIDE_CROP, SLIDE_STRIDE, image_inputs,
                                                official_names, openai_state_dict,
                                                subsample, window_inputs)
    sys.path.insert(0, osp.abspath(args.official))
    import clip
    from clip import model as clip_model

    def load(*_, **__):   # a new CLIP per segmentor: set_params writes into its tower
        net = clip_model.CLIP(embed_dim=32, image_resolution=64, vision_layers=4,
                              vision_width=64, vision_patch_size=16, context_length=77,
                              vocab_size=49408, transformer_width=32, transformer_heads=2,
                              transformer_layers=2)
        # the official CLIP takes heads = width // 64 (none at width 32): the tiny tower's 2
        net.visual = clip_model.VisionTransformer(input_resolution=64, patch_size=16,
                                                  width=32, layers=4, heads=2, output_dim=32)
        missing, unexpected = net.load_state_dict(openai_state_dict(state), strict=False)
        if unexpected or [k for k in missing if k != 'logit_scale']:
            raise RuntimeError(f'weights do not fit: {missing}, {unexpected}')
        return net.float().eval(), None

    clip.load = load                 # the official code loads its CLIP here
    import naclip
    from mmseg.structures import SegDataSample

    mean = torch.tensor([122.771, 116.746, 104.094]).view(1, 3, 1, 1)
    std = torch.tensor([68.501, 66.632, 70.323]).view(1, 3, 1, 1)
    with tempfile.TemporaryDirectory() as tmp:
        names = osp.join(tmp, 'cls_parity.txt')
        with open(names, 'w') as f:
            f.write(official_names())

        def build(**cfg):
            cfg = dict(dict(slide_crop=SLIDE_CROP, slide_stride=SLIDE_STRIDE), **cfg)
            return naclip.NACLIP(clip_path='tiny', name_path=names,
                                 device=torch.device('cpu'), **cfg)

        segs = {key: build(**cfg) for key, cfg in SETTINGS.items()}
        variants = {key: build(**cfg) for key, cfg in VARIANTS.items()}
    record = {}
    windows = window_inputs()
    for i, batch in enumerate(windows):
        out = segs['default'].forward_feature((batch - mean) / std)
        record[f'window_logits_{i}'] = subsample(subsample(out))
    for key, variant in variants.items():
        out = variant.forward_feature((windows[0] - mean) / std)
        record[f'{key}_window_logits_0'] = subsample(subsample(out))
    for key, seg in segs.items():
        for i, image in enumerate(image_inputs()):
            x = (image[None] - mean) / std
            meta = dict(ori_shape=tuple(image.shape[-2:]), img_shape=tuple(image.shape[-2:]))
            if key == 'default':   # the merged logits of the sliding windows
                merged = seg.forward_slide(x, SLIDE_STRIDE, SLIDE_CROP)[0]
                record[f'slide_logits_{i}'] = subsample(subsample(merged))
            sample = seg.predict(x, [SegDataSample(metainfo=meta)])[0]
            record[f'{key}_probs_{i}'] = subsample(sample.seg_logits.data)
            record[f'{key}_labels_{i}'] = sample.pred_sem_seg.data[0].to(torch.uint8).clone()
    from tools.parity.clip_dense_parity import save_record
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    save_record(record, args.out)


if __name__ == '__main__':
    main()
