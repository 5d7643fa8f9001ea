"""ProxyCLIP images/s in fp32 and bf16 on the CPU (docs/benchmarks.md, "Precision").

    python benchmarks/proxyclip_precision.py [--config CONFIG] [--size 336 448]
                                             [--images 4] [--threads 2] [--json PATH]

Builds the config's model with random weights (ViT-B/16 + DINO B/8 for the default VOC21
config), segments the same seeded structured images (8 coloured blocks + noise) in
``cpu_precision='fp32'`` and ``'bf16'``, and reports seconds per image, images/s, the
speed-up and the label agreement with fp32. The text side is encoded once before timing
(one template: it is cached and not part of the per-image cost). bf16 runs bf16 copies of
the image towers on CPUs with native bf16 (AVX-512 BF16 / AMX); elsewhere it would be
emulated and the script says so.
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)


def structured_images(count: int, size: tuple[int, int], seed: int = 0):
    import torch
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    out = []
    for _ in range(count):
        image = 0.3 * torch.randn(1, 3, h, w, generator=gen)
        colours = torch.randn(8, 3, 1, 1, generator=gen) * 1.5
        for i in range(2):
            for j in range(4):
                image[0, :, i * h // 2:(i + 1) * h // 2, j * w // 4:(j + 1) * w // 4] += \
                    colours[i * 4 + j]
        out.append(image)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description='ProxyCLIP fp32 vs bf16 on the CPU')
    parser.add_argument('--config', default='configs/proxyclip/proxyclip_vit-b16-dino-b8_voc21.py')
    parser.add_argument('--size', type=int, nargs=2, default=[336, 448])
    parser.add_argument('--images', type=int, default=4)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--json')
    args = parser.parse_args()
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import langseg  # noqa: F401
    from langseg.engine.config import strip_pretrained_weights
    from langseg.utils.precision import cpu_supports_bf16
    torch.set_num_threads(args.threads)
    cfg = Config.fromfile(osp.join(REPO, args.config))
    init_default_scope('mmseg')
    model_cfg = strip_pretrained_weights(cfg.model.to_dict())
    model_cfg['templates'] = 'a photo of a {}.'
    torch.manual_seed(0)
    first = MODELS.build(model_cfg)
    weights = first.state_dict()
    # as RGB pixels (the model's input) that CLIP's normalisation turns into the images
    images = [img * first.clip_std + first.clip_mean
              for img in structured_images(args.images, tuple(args.size))]
    rows, labels = {}, {}
    with torch.no_grad():
        for precision in ('fp32', 'bf16'):   # one model each, the same weights
            model = MODELS.build(dict(model_cfg, cpu_precision=precision)).eval()
            model.load_state_dict(weights)
            model.predict(images[0])                                 # warm-up (+ text)
            start = time.perf_counter()
            labels[precision] = [model.predict(img)[0].pred_sem_seg.data for img in images]
            seconds = (time.perf_counter() - start) / len(images)
            rows[precision] = dict(seconds_per_image=seconds, images_per_second=1 / seconds)
    agreement = float(torch.stack([(a == b).float().mean() for a, b in
                                   zip(labels['fp32'], labels['bf16'])]).mean())
    result = dict(config=args.config, size=args.size, images=args.images,
                  threads=args.threads, native_bf16=cpu_supports_bf16(), **rows,
                  speedup=rows['bf16']['images_per_second'] / rows['fp32']['images_per_second'],
                  label_agreement=agreement)
    print(f"| precision | s / image | images / s |\n|---|---|---|")
    for p in ('fp32', 'bf16'):
        print(f"| {p} | {rows[p]['seconds_per_image']:.2f} | {rows[p]['images_per_second']:.3f} |")
    print(f"bf16 speed-up {result['speedup']:.2f}x, label agreement with fp32 "
          f"{100 * agreement:.2f}% ({args.size[0]}x{args.size[1]}, {args.threads} threads, "
          f"native bf16: {result['native_bf16']})")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
