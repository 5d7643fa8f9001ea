"""Record the official SCLIP code's outputs on seeded tiny weights, for
tests/test_zoo_sclip.py (which rebuilds the weights and inputs from the same seeds).

    python tools/parity/record_sclip.py /path/to/SCLIP [--out tests/data/parity/sclip.pt]

``/path/to/SCLIP`` is a checkout of github.com/wangf3014/SCLIP (its ``clip/``,
``clip_segmentor.py``, ``prompts/``, ``pamr.py``); nothing of it is copied into langseg.
The official ``CLIPForSegmentation`` is built as its configs build it, except that
``clip.load`` returns OpenAI's ``CLIP`` module of the official ``clip/model.py`` holding
langseg's tiny architecture (``tiny-vit``, QuickGELU: 4 blocks of width 32, 2 heads,
patch 16, 64 px) with the seeded weights of ``tools/parity/clip_dense_parity.py``. Recorded
(fp32, CPU): the window logits of ``forward_feature`` for a square and a non-square batch
of two windows, and for two images of different sizes the merged logits of
``forward_slide`` and the probabilities and labels of ``predict`` (maps: every second
row and column; labels whole), with the default
settings (logit scale 40, no threshold) and with the VOC21 ones (65, ``prob_thd`` 0.1,
``area_thd`` 0.1).
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
SETTINGS = {'default': dict(logit_scale=40, prob_thd=0.0, area_thd=None),
            'voc21': dict(logit_scale=65, prob_thd=0.1, area_thd=0.1)}


def langseg_tiny_model():
    """langseg's tiny SCLIP with the seeded weights (what the test builds)."""
    sys.path.insert(0, REPO)
    from tools.parity.clip_dense_parity import seeded_tiny_segmentor
    return seeded_tiny_segmentor('SCLIPSegmentor', templates='openai_imagenet')


def official_clip(official, state):
    """The official ``CLIP`` with the tiny architecture and ``state`` (OpenAI keys)."""
    from clip import model as clip_model
    net = clip_model.CLIP(embed_dim=32, image_resolution=64, vision_layers=4,
                          vision_width=64, vision_patch_size=16, context_length=77,
                          vocab_size=49408, transformer_width=32, transformer_heads=2,
                          transformer_layers=2)
    # the official CLIP takes heads = width // 64 (none at width 32): the tiny tower's 2
    net.visual = clip_model.VisionTransformer(input_resolution=64, patch_size=16, width=32,
                                              layers=4, heads=2, output_dim=32)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if k != 'logit_scale']:
        raise RuntimeError(f'weights do not fit: missing {missing}, unexpected {unexpected}')
    return net.float().eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('official', help='checkout of github.com/wangf3014/SCLIP')
    parser.add_argument('--out', default=osp.join(REPO, 'tests/data/parity/sclip.pt'))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    model, state = langseg_tiny_model()
    from tools.parity.clip_dense_parity import (IMAGE_SIZES, SLIDE_CROP, SLIDE_STRIDE,
                                                WINDOW_SIZES, image_inputs, official_names,
                                                openai_state_dict, subsample, window_inputs)
    sys.path.insert(0, osp.abspath(args.official))
    import clip
    net = official_clip(args.official, openai_state_dict(state))
    clip.load = lambda *a, **k: (net, None)      # the official code loads its CLIP here
    import clip_segmentor
    from mmseg.structures import SegDataSample

    mean = torch.tensor([122.771, 116.746, 104.094]).view(1, 3, 1, 1)
    std = torch.tensor([68.501, 66.632, 70.323]).view(1, 3, 1, 1)
    with tempfile.TemporaryDirectory() as tmp:
        names = osp.join(tmp, 'cls_parity.txt')
        with open(names, 'w') as f:
            f.write(official_names())
        segs = {key: clip_segmentor.CLIPForSegmentation(
            clip_path='tiny', name_path=names, device=torch.device('cpu'),
            slide_crop=SLIDE_CROP, slide_stride=SLIDE_STRIDE, **cfg)
            for key, cfg in SETTINGS.items()}
    record = dict(window_sizes=torch.tensor(WINDOW_SIZES),
                  image_sizes=torch.tensor(IMAGE_SIZES))
    seg = segs['default']
    for i, windows in enumerate(window_inputs()):
        record[f'window_logits_{i}'] = subsample(seg.forward_feature((windows - mean) / std))
    for key, seg in segs.items():
        for i, image in enumerate(image_inputs()):
            x = (image[None] - mean) / std
            meta = dict(ori_shape=tuple(image.shape[-2:]), img_shape=tuple(image.shape[-2:]))
            if key == 'default':   # the merged logits do not depend on the settings
                merged = seg.forward_slide(x, [meta], SLIDE_STRIDE, SLIDE_CROP)[0]
                record[f'slide_logits_{i}'] = subsample(merged)
            sample = seg.predict(x, [SegDataSample(metainfo=meta)])[0]
            record[f'{key}_probs_{i}'] = subsample(sample.seg_logits.data)
            record[f'{key}_labels_{i}'] = sample.pred_sem_seg.data[0].to(torch.uint8).clone()
    from tools.parity.clip_dense_parity import save_record
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    save_record(record, args.out)


if __name__ == '__main__':
    main()
