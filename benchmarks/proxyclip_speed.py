"""ProxyCLIP inference speed: images per second and peak memory on the VOC protocol.

    python benchmarks/proxyclip_speed.py [--config CONFIG] [--images 4] [--device cpu|cuda]
                                         [--window-batch 1 16] [--json PATH]

Random weights (no download), random images of VOC's typical size resized to short side
336 (crop 336, stride 112: 3 windows for a 336x448 image). For each window batch size the
same images go through ``image_logits`` + the post-processing; the outputs of every batch
size are compared with the one-window-at-a-time run. On CUDA the model runs under its
autocast precision (fp16 by default).
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import resource
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default='configs/proxyclip/proxyclip_vit-b16-dino-b8_voc21.py')
    parser.add_argument('--images', type=int, default=4)
    parser.add_argument('--size', type=int, nargs=2, default=(336, 448), metavar=('H', 'W'))
    parser.add_argument('--window-batch', type=int, nargs='+', default=[1, 16])
    parser.add_argument('--device', default=None)
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from tqdm import tqdm

    import langseg  # noqa: F401
    from mmseg.registry import MODELS
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    cfg = Config.fromfile(osp.join(REPO, args.config))
    init_default_scope('mmseg')
    from langseg.engine.config import strip_pretrained_weights
    model = MODELS.build(strip_pretrained_weights(cfg.model.to_dict())).to(device).eval()
    torch.manual_seed(0)
    images = [torch.randn(3, *args.size, device=device) for _ in range(args.images)]
    rows, reference = [], None
    for wb in args.window_batch:
        model.windows.batch_size = wb
        model.image_logits(images[:1])  # warm-up (and text encoding)
        if device.type == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        outs = []
        for k in tqdm(range(0, len(images), max(1, wb // 3) if wb > 1 else 1),
                      desc=f'window batch {wb}', leave=False):
            group = images[k:k + (max(1, wb // 3) if wb > 1 else 1)]
            for logits in model.image_logits(group):
                outs.append(model.postprocess(logits, args.size)[1])
        if device.type == 'cuda':
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() / 2**20
            machine = torch.cuda.get_device_name()
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            machine = f'CPU, {torch.get_num_threads()} threads ({os.cpu_count()} cores)'
        seconds = time.perf_counter() - start
        same = None
        if reference is None:
            reference = outs
        else:
            same = all(torch.equal(a, b) for a, b in zip(outs, reference))
        rows.append(dict(config=args.config, device=device.type, machine=machine,
                         window_batch=wb, images=len(images), size=list(args.size),
                         images_per_second=round(len(images) / seconds, 3),
                         peak_memory_mib=round(peak, 1), same_labels_as_batch_1=same))
    print('| window batch | machine | image | images / s | peak memory (MiB) | labels equal to batch 1 |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['window_batch']} | {r['machine']} | {r['size'][0]}x{r['size'][1]} | "
              f"{r['images_per_second']} | {r['peak_memory_mib']} | {r['same_labels_as_batch_1']} |")
    if args.json:
        with open(args.json + '.tmp', 'w') as f:
            json.dump(rows, f, indent=1)
        os.replace(args.json + '.tmp', args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
