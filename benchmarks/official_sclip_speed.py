"""The official SCLIP code's speed on this machine, beside langseg's (docs/benchmarks.md,
"Training-free methods": the official repository's row).

    python benchmarks/official_sclip_speed.py /path/to/SCLIP [--threads 2]

``/path/to/SCLIP``: a checkout of github.com/wangf3014/SCLIP (Wang, Mei and Yuille, ECCV
2024, arXiv:2312.01597). Its own ``CLIPForSegmentation`` runs (``clip_segmentor.py``,
``clip/model.py``) with the VOC21 settings of its ``configs/cfg_voc21.py`` (logit scale 65,
``prob_thd`` 0.1, ``area_thd`` 0.1, windows 224 / 112) on the CPU. The weights: the
official ``clip/model.py`` ``CLIP`` at ViT-B/16's sizes with its own random initialisation
(nothing downloaded; speed does not depend on the weights), loaded where the official code
calls ``clip.load``. The images are the ones benchmarks/training_free_speed.py times for
langseg (375x500, 500x375, 333x500 random pixels, resized to VOC21's short side 336:
336x448, 448x336, 336x505), one ``predict`` call each (the official code segments one
image a call), after a warm-up image; the text is encoded once at construction and not
timed. Printed: images/s by the wall clock and the process's CPU seconds per image.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
import time

import torch
import torch.nn.functional as F

SIZES = [(375, 500), (500, 375), (333, 500)]
SHORT_SIDE = 336


def resized(h: int, w: int) -> tuple[int, int]:
    """mmcv's keep-ratio Resize to scale (2048, 336): the short side to 336."""
    scale = min(2048 / max(h, w), SHORT_SIDE / min(h, w))
    return int(h * scale + 0.5), int(w * scale + 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('official', help='checkout of github.com/wangf3014/SCLIP')
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    root = osp.abspath(args.official)
    sys.path.insert(0, root)
    os.chdir(root)
    import clip
    import clip.model as clip_model
    torch.manual_seed(0)
    net = clip_model.CLIP(embed_dim=512, image_resolution=224, vision_layers=12,
                          vision_width=768, vision_patch_size=16, context_length=77,
                          vocab_size=49408, transformer_width=512, transformer_heads=8,
                          transformer_layers=12).float().eval()
    clip.load = lambda *a, **k: (net, None)      # the official code loads its CLIP here
    import clip_segmentor
    from mmseg.structures import SegDataSample
    seg = clip_segmentor.CLIPForSegmentation(
        clip_path='ViT-B/16', name_path='./configs/cls_voc21.txt', device=torch.device('cpu'),
        logit_scale=65, prob_thd=0.1, area_thd=0.1, slide_stride=112, slide_crop=224).eval()
    gen = torch.Generator().manual_seed(0)
    images = []
    for h, w in SIZES:
        img = torch.rand(1, 3, h, w, generator=gen) * 255
        images.append(F.interpolate(img, size=resized(h, w), mode='bilinear',
                                    align_corners=False))

    def segment(img: torch.Tensor) -> None:
        batch = seg.data_preprocessor(dict(inputs=[img[0]], data_samples=[SegDataSample(
            metainfo=dict(ori_shape=tuple(img.shape[-2:]), img_shape=tuple(img.shape[-2:]),
                          pad_shape=tuple(img.shape[-2:])))]), False)
        seg.predict(batch['inputs'], batch['data_samples'])

    segment(images[0])                                   # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    for img in images:
        segment(img)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    shapes = ', '.join(f'{i.shape[-2]}x{i.shape[-1]}' for i in images)
    print(f'official SCLIP (VOC21 settings, fp32, {args.threads} threads): images {shapes}: '
          f'{len(images) / wall:.3f} images/s, {cpu / len(images):.2f} CPU s / image')


if __name__ == '__main__':
    main()
