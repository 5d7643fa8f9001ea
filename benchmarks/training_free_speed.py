"""Images/s of every training-free method: batched windows of mixed image sizes, fp32 and
bf16 (where the device has it), CPU or CUDA (docs/benchmarks.md, "Training-free methods").

    python benchmarks/training_free_speed.py [--methods proxyclip maskclip ...]
        [--benchmark voc21] [--sizes 375x500 500x375 333x500] [--device cpu|cuda]
        [--precisions fp32 bf16] [--threads N] [--window-batch auto] [--config-dir DIR]
        [--json PATH]

The methods are found as tools/compare.py finds them (``configs/<folder>/<method>_<arch>_
<benchmark>.py`` whose protocol card needs no checkpoint; ``--methods`` picks some): for
each, the config of ``--benchmark`` (VOC21 by default) is built with random weights at its
real architecture sizes (``langseg.engine.config.strip_pretrained_weights``: ViT-B/16 CLIP,
DINO ViT-B/8 where the method uses it; nothing is downloaded) and one template (the text
is encoded once, before timing: it is not a per-image cost). The images (``--sizes``, raw
H x W, random pixels) are first resized by the config's test-pipeline ``Resize``, as the
evaluation resizes them (VOC21: short side 336), then segmented together: the windows of
all images are grouped by shape and scored ``window_batch_size`` at a time
(``OpenVocabSegmentor.image_logits``), each image's scores post-processed to its size
(PAMR included where the config turns it on, as NACLIP's do).
Timed: that whole call after a warm-up on the first image (CUDA synchronised), wall
clock (images/s) and the process's CPU time (all threads; less sensitive to other
processes on a shared machine than the wall clock). Peak
memory: CUDA ``max_memory_allocated``, or on a CPU the process's peak resident set during
the timed call (reset first through ``/proc/self/clear_refs``; model weights included).
Each method and precision runs in a process of its own (its peak memory is its own), on
the same seeded random weights (checked); the precision is the model's (CPU: ``cpu_precision``;
CUDA: ``precision``); a method without that setting is reported as such. The labels of
every precision are compared with fp32's.
"""
from __future__ import annotations

import argparse
import inspect
import os
import os.path as osp
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.lower().partition('x')
    return int(h), int(w)


def _accepts(cls, name: str) -> bool:
    """Whether the segmentor class (or a base it passes ``**kwargs`` to) takes ``name``."""
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        params = inspect.signature(init).parameters
        if name in params:
            return True
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return False
    return False


def resized_size(cfg, size: tuple[int, int]) -> tuple[int, int]:
    """``size`` (H, W) after the config's test-pipeline ``Resize`` (keep_ratio: mmcv's
    rescale rule), or as given when the pipeline has none."""
    from mmcv.image.geometric import rescale_size
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:
        dataset = dataset.dataset
    for step in dataset.get('pipeline', []):
        if step.get('type') == 'Resize' and step.get('scale'):
            h, w = size
            if step.get('keep_ratio', True):
                nw, nh = rescale_size((w, h), tuple(step['scale']))
            else:
                nw, nh = step['scale']
            return int(nh), int(nw)
    return size


def method_configs(methods: list[str], benchmark: str,
                   config_dir: str | None = None) -> list[tuple[str, str]]:
    """``[(method, config)]``: the training-free methods of the config folders (or the
    ones named) on ``benchmark`` (else on their first benchmark); ``config_dir``: where
    the method folders are (default: the repository's ``configs/``)."""
    from langseg.engine.compare import BENCHMARKS, default_config, find_method_configs
    from langseg.engine.reproduce import load_card
    from langseg.utils.errors import ConfigError
    found = find_method_configs(config_dir or osp.join(REPO, 'configs'))
    unknown = [m for m in methods if m not in found]
    if unknown:
        raise ConfigError(f'no benchmark configs for {", ".join(unknown)}; methods: '
                          f'{", ".join(sorted(found))}')
    out = []
    for method in methods or sorted(found):
        paths = found[method]
        bench = benchmark if benchmark in paths else \
            next(b for b in (*BENCHMARKS, *sorted(paths)) if b in paths)
        config = default_config(paths, bench)
        _, card = load_card(config)
        if card.get('needs_checkpoint') and not methods:
            continue
        out.append((method, config))
    return out


def _reset_peak(device) -> None:
    import torch
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    else:
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        except OSError:
            pass


def _peak_mib(device) -> float:
    import torch
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated() / 2**20
    from langseg.engine.compare import _peak_rss_mib
    return _peak_rss_mib()


def measure(method: str, config: str, sizes: list[tuple[int, int]], device,
            precision: str, window_batch: str | int) -> tuple[dict, list]:
    """One method in one precision (in its own process, so that its peak memory is its
    own): the row and the label maps; see the module docstring. The weights are the
    seeded random initialisation (the same in every process: ``weights_checksum``)."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import langseg  # noqa: F401
    from langseg.engine.config import strip_pretrained_weights
    from langseg.utils.precision import cpu_supports_bf16
    cfg = Config.fromfile(config)
    init_default_scope('mmseg')
    model_cfg = strip_pretrained_weights(cfg.model.to_dict())
    model_cfg['templates'] = 'a photo of a {}.'
    model_cfg['window_batch_size'] = window_batch
    cls = MODELS.get(model_cfg['type'])
    setting = 'precision' if device.type == 'cuda' else 'cpu_precision'
    gen = torch.Generator().manual_seed(0)
    resized = [resized_size(cfg, s) for s in sizes]
    images = [torch.rand(3, h, w, generator=gen).mul(255).to(device) for h, w in resized]
    row = dict(method=method, config=osp.relpath(config, REPO), device=device.type,
               precision=precision, images=len(images),
               sizes=[f'{h}x{w}' for h, w in resized])
    if precision != 'fp32' and not _accepts(cls, setting):
        return dict(row, status=f'not supported (no {setting} setting)'), []
    if precision == 'bf16' and device.type == 'cpu' and not cpu_supports_bf16():
        return dict(row, status='no native bf16 on this CPU'), []
    if precision == 'bf16' and device.type == 'cuda' and not torch.cuda.is_bf16_supported():
        return dict(row, status='no bf16 on this GPU'), []
    if _accepts(cls, setting):
        model_cfg[setting] = precision
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).to(device).eval()
    checksum = float(sum(p.double().abs().sum() for p in model.parameters()))
    with torch.no_grad():
        model.image_logits(images[:1])                      # warm-up (+ the text, once)
        _reset_peak(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        labels = [model.postprocess(logits, img.shape[-2:], img)[1]   # PAMR where on
                  for logits, img in zip(model.image_logits(images), images)]
        if device.type == 'cuda':
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
    batch = model.windows.batch_size
    windows = sum(len(model.windows.boxes(*img.shape[-2:])) for img in images)
    row.update(status='measured', windows=windows,
               window_batch=batch if batch != 'auto' else (16 if device.type == 'cuda' else 3),
               seconds=round(seconds, 3), cpu_seconds=round(cpu_seconds, 3),
               images_per_second=round(len(images) / seconds, 4),
               peak_memory_mib=round(_peak_mib(device), 1), weights_checksum=checksum)
    return row, [lab.cpu() for lab in labels]


def _child(args) -> int:
    """``--child OUT``: measure one (method, precision) and write the row and the labels."""
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    window_batch = args.window_batch if args.window_batch == 'auto' else int(args.window_batch)
    row, labels = measure(args.methods[0], args.config, args.sizes, device,
                          args.precisions[0], window_batch)
    torch.save(dict(row=row, labels=labels), args.child)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--methods', nargs='+', default=[])
    parser.add_argument('--benchmark', default='voc21')
    parser.add_argument('--sizes', nargs='+', type=_size,
                        default=[(375, 500), (500, 375), (333, 500)],
                        help='raw image sizes HxW (resized as the config resizes)')
    parser.add_argument('--device', default=None)
    parser.add_argument('--precisions', nargs='+', default=['fp32', 'bf16'])
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--window-batch', default='auto')
    parser.add_argument('--config-dir', help="where the method folders are (default: the "
                        "repository's configs/)")
    parser.add_argument('--json')
    parser.add_argument('--config', help=argparse.SUPPRESS)
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    import subprocess
    import tempfile

    import torch

    from langseg.engine.atomic_io import atomic_write_json
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    precisions = ['fp32'] + [p for p in args.precisions if p != 'fp32']
    if device.type == 'cuda':
        machine = torch.cuda.get_device_name()
    else:
        import platform
        machine = f'CPU ({platform.processor() or platform.machine()}), ' \
                  f'{args.threads or torch.get_num_threads()} threads, {os.cpu_count()} cores'
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for method, config in method_configs(args.methods, args.benchmark, args.config_dir):
            reference = None
            for precision in precisions:    # one process each: its own peak memory
                out = osp.join(tmp, f'{method}-{precision}.pt')
                cmd = [sys.executable, osp.abspath(__file__), '--child', out,
                       '--methods', method, '--config', config, '--device', device.type,
                       '--precisions', precision, '--window-batch', args.window_batch,
                       '--sizes', *[f'{h}x{w}' for h, w in args.sizes]]
                if args.threads:
                    cmd += ['--threads', str(args.threads)]
                proc = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
                if proc.returncode != 0:      # e.g. a method whose inputs are not here
                    last = (proc.stderr.strip().splitlines() or ['?'])[-1]
                    print(proc.stderr[-2000:], file=sys.stderr)
                    rows.append(dict(method=method, config=osp.relpath(config, REPO),
                                     device=device.type, precision=precision,
                                     sizes=[f'{h}x{w}' for h, w in args.sizes],
                                     status=f'failed: {last[:200]}'))
                    continue
                result = torch.load(out, weights_only=True)
                row, labels = result['row'], result['labels']
                if reference is None and row['status'] == 'measured':
                    reference = (row, labels)
                elif row['status'] == 'measured':
                    if abs(row['weights_checksum'] - reference[0]['weights_checksum']) > \
                            1e-6 * abs(reference[0]['weights_checksum']):
                        raise RuntimeError(f'{method}: the {precision} process built other '
                                           'weights than fp32 (the seeded initialisation '
                                           'is not deterministic)')
                    same = torch.stack([(a == b).float().mean()
                                        for a, b in zip(labels, reference[1])]).mean()
                    row['labels_equal_to_fp32'] = round(100 * float(same), 2)
                rows.append(row)
    print(f'machine: {machine}')
    print('| method | precision | images (resized) | windows (batch) | images / s | '
          'CPU s / image | peak memory (MiB) | labels = fp32 |')
    print('|---|---|---|---|---|---|---|---|')
    for r in rows:
        if r['status'] != 'measured':
            print(f"| {r['method']} | {r['precision']} | {', '.join(r['sizes'])} | - | "
                  f"{r['status']} | - | - | - |")
            continue
        mem = 'CUDA allocated' if r['device'] == 'cuda' else 'RSS'
        equal = r.get('labels_equal_to_fp32')
        print(f"| {r['method']} | {r['precision']} | {', '.join(r['sizes'])} | "
              f"{r['windows']} ({r['window_batch']}) | {r['images_per_second']:.3f} | "
              f"{r['cpu_seconds'] / r['images']:.2f} | "
              f"{r['peak_memory_mib']:.0f} ({mem}) | "
              f"{'-' if equal is None else f'{equal:.2f}%'} |")
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else None
    if load is not None:
        print(f'load average (1 min) at the end: {load:.2f}')
    if args.json:
        atomic_write_json(args.json, dict(machine=machine, load_average=load, rows=rows),
                          indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
