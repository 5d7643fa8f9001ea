"""Training speed and peak memory of language-guided configs (docs/benchmarks.md).

    python benchmarks/train_speed.py [CONFIG ...] [--iters 5] [--warmup 2] [--size 512]
                                     [--batch 2] [--device cpu|cuda] [--json PATH]

Builds each config's model with random weights (no download), feeds random 512x512
batches with random labels through ``loss`` + backward + the config's optimiser, and
reports iterations per second and peak memory (CUDA: ``max_memory_allocated``; CPU: the
process's peak resident set size, which includes the Python runtime). On CUDA the step runs
under AMP (``AmpOptimWrapper``, fp16). It also counts the forwards of the frozen text
tower during warm-up and timing: a frozen text encoder runs once in all; learnable contexts
(DenseCLIP) run once per iteration by design.
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

DEFAULT_CONFIGS = [
    'configs/denseclip/denseclip_clip-r50_8xb4-80k_ade20k-512x512.py',
    'configs/convformer/convformer_mobilenetv2_8xb4-80k_ade20k-512x512.py',
]


def measure(config: str, args) -> dict:
    import torch
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from tqdm import tqdm

    import langseg  # noqa: F401
    from langseg.engine.config import strip_pretrained_weights

    cfg = Config.fromfile(osp.join(REPO, config) if not osp.isabs(config) else config)
    init_default_scope('mmseg')
    model_cfg = cfg.model.to_dict()
    strip_pretrained_weights(model_cfg)
    model_cfg.pop('data_preprocessor', None)
    device = torch.device(args.device)
    model = revert_sync_batchnorm(MODELS.build(model_cfg)).to(device).train()
    optim_cfg = cfg.optim_wrapper.to_dict()
    if device.type == 'cuda':
        optim_cfg['type'] = 'AmpOptimWrapper'
        optim_cfg.setdefault('dtype', 'float16')
    wrapper = build_optim_wrapper(model, optim_cfg)

    text_calls = []
    text_encoder = getattr(model, 'text_encoder', None)
    if text_encoder is not None:
        text_encoder.text.transformer.register_forward_hook(lambda *a: text_calls.append(1))

    num_classes = model.decode_head.num_classes
    torch.manual_seed(0)
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    samples = []
    for _ in range(args.batch):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, args.size, args.size),
                                                    device=device))
        s.set_metainfo(dict(img_shape=(args.size, args.size), pad_shape=(args.size, args.size),
                            ori_shape=(args.size, args.size)))
        samples.append(s)

    def step():
        with wrapper.optim_context(model):
            losses = model(images, samples, mode='loss')
        loss, _ = model.parse_losses(losses)
        wrapper.update_params(loss)

    name = osp.splitext(osp.basename(config))[0]
    for _ in tqdm(range(args.warmup), desc=f'{name}: warm-up', leave=False):
        step()
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in tqdm(range(args.iters), desc=f'{name}: timing', leave=False):
        step()
    if device.type == 'cuda':
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
        machine = torch.cuda.get_device_name()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        machine = f'CPU, {torch.get_num_threads()} threads ({os.cpu_count()} cores)'
    seconds = (time.perf_counter() - start) / args.iters
    return dict(config=config, device=args.device, machine=machine, amp=device.type == 'cuda',
                size=args.size, batch=args.batch, iters=args.iters,
                seconds_per_iter=round(seconds, 4), iters_per_second=round(1 / seconds, 4),
                peak_memory_mib=round(peak, 1),
                text_forwards=len(text_calls),
                text_encoder=None if text_encoder is None else type(text_encoder).__name__)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='*', default=DEFAULT_CONFIGS)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--device', default=None, help='cpu or cuda (default: cuda if present)')
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)
    import torch
    args.device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if args.device == 'cuda' and not torch.cuda.is_available():
        print('error: --device cuda but no CUDA device is available', file=sys.stderr)
        return 2
    rows = []
    for config in args.configs:
        if not osp.isfile(osp.join(REPO, config)) and not osp.isfile(config):
            print(f'error: config {config} not found', file=sys.stderr)
            return 2
    if len(args.configs) > 1:  # one process per config: peak memory is per process
        import subprocess
        import tempfile
        for config in args.configs:
            with tempfile.TemporaryDirectory() as tmp:
                out = osp.join(tmp, 'row.json')
                subprocess.run([sys.executable, __file__, config, '--iters', str(args.iters),
                                '--warmup', str(args.warmup), '--size', str(args.size),
                                '--batch', str(args.batch), '--device', args.device,
                                '--json', out], check=True, stdout=subprocess.DEVNULL)
                with open(out) as f:
                    rows.extend(json.load(f))
    else:
        rows.append(measure(args.configs[0], args))
    print('| config | machine | AMP | input | batch | s / iter | iter / s | peak memory (MiB) '
          '| text forwards |')
    print('|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {osp.basename(r['config'])} | {r['machine']} | {r['amp']} | {r['size']}x{r['size']}"
              f" | {r['batch']} | {r['seconds_per_iter']} | {r['iters_per_second']}"
              f" | {r['peak_memory_mib']} | {r['text_forwards']} |")
    if args.json:
        with open(args.json + '.tmp', 'w') as f:
            json.dump(rows, f, indent=1)
        os.replace(args.json + '.tmp', args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
