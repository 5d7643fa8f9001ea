"""What ``tools/compare.py`` does: evaluate methods x benchmarks and print one table.

**Methods come from the config folders**, never from a list in the code: every file
``configs/<folder>/<method>_<arch>_<benchmark>.py`` whose last part is a benchmark key of
:data:`langseg.engine.reproduce.DATASETS` (``voc21``, ``context60``, ``coco-object``,
``voc20``, ``context59``, ``coco-stuff``, ``cityscapes``, ``ade20k``, ...) is the config of
``method`` on that benchmark (``proxyclip_vit-b16-dino-b8_voc21.py``: ProxyCLIP on VOC21;
``maskclip_vit-b16_coco-stuff.py``: MaskCLIP on COCO-Stuff; a new method folder with its
eight ``<method>_vit-b16_<bench>.py`` appears as soon as it is there). Where a method has
several configs for one benchmark (towers, VFMs), the default is the one of the
architecture that covers the most of the method's benchmarks (ProxyCLIP:
``vit-b16-dino-b8``); explicit config paths choose any other. The published numbers, their
source and tolerance come from each config's protocol card.

**Data**: each run's test data is checked first (:func:`langseg.engine.reproduce.data_problem`).
The runs whose data is in place are evaluated; for the others the instructions say, once
per benchmark, what to download and where to put it. With no data for any run nothing is
evaluated (the caller exits 2, as ``tools/reproduce.py``).

**Measured per run** (tools/test.py's evaluation of the whole test set, batch as the
config says): mIoU; images/s of the model's test step (the forward and the
post-processing, from just before to just after each iteration's ``test_step``, CUDA
synchronised; data loading and the metric excluded; the first iteration, which encodes the
vocabulary, is left out when there are more); peak memory during the evaluation: CUDA's
``max_memory_allocated`` on a GPU, else the process's peak resident set (``VmHWM``, reset
at the start of each evaluation through ``/proc/self/clear_refs``; where that cannot be
reset, the process's peak so far, said so in the table).
"""
from __future__ import annotations

import glob
import os
import os.path as osp
import re
import resource
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from ..utils.errors import ConfigError
from .reproduce import (DATASETS, _moved_root, _test_dataset, data_problem, load_card,
                        verdict)

#: The eight benchmarks of the training-free papers' tables, in their column order.
BENCHMARKS = ('voc21', 'context60', 'coco-object', 'voc20', 'context59', 'coco-stuff',
              'cityscapes', 'ade20k')

_STEM = re.compile(r'^(?P<method>[^_]+)_(?P<arch>.+)_(?P<bench>[^_]+)$')


def find_method_configs(config_dir: str) -> dict[str, dict[str, list[str]]]:
    """``{method: {benchmark: [config paths]}}`` of every
    ``<config_dir>/<folder>/<method>_<arch>_<benchmark>.py`` (benchmark: a key of
    ``DATASETS``); ``_base_`` is skipped."""
    found: dict[str, dict[str, list[str]]] = {}
    for path in sorted(glob.glob(osp.join(config_dir, '*', '*.py'))):
        if osp.basename(osp.dirname(path)) == '_base_':
            continue
        match = _STEM.match(osp.splitext(osp.basename(path))[0])
        if match and match['bench'] in DATASETS:
            found.setdefault(match['method'], {}).setdefault(match['bench'], []).append(path)
    return found


def default_config(paths: dict[str, list[str]], benchmark: str) -> str | None:
    """The config of one method on ``benchmark``: of several, the one whose architecture
    part covers the most of the method's benchmarks (then the shortest, then by name)."""
    candidates = paths.get(benchmark)
    if not candidates:
        return None
    coverage = Counter(_STEM.match(osp.splitext(osp.basename(p))[0])['arch']
                       for ps in paths.values() for p in ps)

    def rank(path: str):
        arch = _STEM.match(osp.splitext(osp.basename(path))[0])['arch']
        return (-coverage[arch], len(arch), path)
    return sorted(candidates, key=rank)[0]


def method_of(path: str) -> str:
    """The method a config path names: its file stem up to the first ``_``."""
    return osp.splitext(osp.basename(path))[0].split('_', 1)[0]


@dataclass
class Run:
    """One method on one benchmark: what was asked, measured and published."""
    method: str
    benchmark: str
    config: str | None
    published: float | None = None
    source: str = ''
    tolerance: float = 1.0
    ours: float | None = None
    images: int = 0
    images_per_second: float | None = None
    peak_memory_mib: float | None = None
    memory: str = ''
    device: str = ''
    status: str = ''          # '' (evaluated), 'no config', 'no data', 'skipped: ...'

    @property
    def difference(self) -> float | None:
        if self.ours is None or self.published is None:
            return None
        return self.ours - self.published

    @property
    def result(self) -> str:
        return verdict(self.status, self.ours, self.published, self.tolerance)


@dataclass
class Comparison:
    """The runs of one comparison and the data instructions of the missing benchmarks."""
    runs: list[Run]
    missing: dict[str, str] = field(default_factory=dict)   # benchmark -> instructions

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(r.method for r in self.runs))

    @property
    def benchmarks(self) -> list[str]:
        return list(dict.fromkeys(r.benchmark for r in self.runs))


def resolve(methods: list[str], benchmarks: list[str], configs: list[str],
            config_dir: str) -> list[Run]:
    """The runs asked for: each method (from ``config_dir``) on each benchmark, then each
    explicit config path (method from its file stem, benchmark from its card)."""
    runs = []
    if methods:
        found = find_method_configs(config_dir)
        unknown = [m for m in methods if m not in found]
        if unknown:
            raise ConfigError(f'no benchmark configs for method(s) {", ".join(unknown)} under '
                              f'{config_dir} (expected <folder>/<method>_<arch>_<benchmark>.py); '
                              f'methods found: {", ".join(sorted(found))}')
        for bench in benchmarks:
            if bench not in DATASETS:
                raise ConfigError(f'unknown benchmark {bench!r}: expected one of '
                                  f'{", ".join(DATASETS)}')
        for method in methods:
            for bench in benchmarks:
                path = default_config(found[method], bench)
                runs.append(Run(method, bench, path, status='' if path else 'no config'))
    for path in configs:
        if not osp.isfile(path):
            raise ConfigError(f'config {path} does not exist')
        runs.append(Run(method_of(path), '?', path))
    return runs


def _peak_rss_reset() -> bool:
    """Reset the process's peak resident set (Linux ``clear_refs`` 5); whether it could."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _peak_rss_mib() -> float:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _meter():
    """An mmengine hook timing each test iteration's step and taking the peak memory."""
    import torch
    from mmengine.hooks import Hook

    class Meter(Hook):
        def before_test_epoch(self, runner) -> None:
            self.times, self.sizes, self.start = [], [], None
            self.cuda = torch.cuda.is_available() and \
                next(runner.model.parameters()).device.type == 'cuda'
            if self.cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                self.memory = 'CUDA max allocated'
                self.device = torch.cuda.get_device_name()
            else:
                self.memory = 'RSS' if _peak_rss_reset() else 'RSS (process peak so far)'
                self.device = f'CPU, {torch.get_num_threads()} threads'

        def before_test_iter(self, runner, batch_idx, data_batch=None) -> None:
            if self.cuda:
                torch.cuda.synchronize()
            self.start = time.perf_counter()

        def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            if self.cuda:
                torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self.start)
            self.sizes.append(len(outputs) if outputs is not None else 1)

        def after_test_epoch(self, runner, metrics=None) -> None:
            self.peak = (torch.cuda.max_memory_allocated() / 2**20 if self.cuda
                         else _peak_rss_mib())

        def images_per_second(self) -> float | None:
            times, sizes = self.times, self.sizes
            if len(times) > 1:     # the first step encodes the vocabulary: a warm-up
                times, sizes = times[1:], sizes[1:]
            return sum(sizes) / sum(times) if times and sum(times) > 0 else None

    return Meter()


def evaluate(run: Run, data_root: str | None, checkpoint: str | None,
             work_dir: str) -> None:
    """tools/test.py's evaluation of ``run.config`` (its ``data/`` replaced by
    ``data_root`` when given) with the meter; fills ``run``."""
    from .config import explain_build_errors
    from .runner import explain_data_errors
    from .test import build_test_runner
    options = {}
    if data_root:
        cfg, _ = load_card(run.config)
        options['test_dataloader.dataset.data_root'] = _moved_root(
            _test_dataset(cfg).get('data_root', ''), data_root)
    runner = build_test_runner(run.config, checkpoint, work_dir=work_dir,
                               cfg_options=options or None)
    meter = _meter()
    runner.register_hook(meter, priority='VERY_LOW')
    with explain_build_errors(), explain_data_errors():
        metrics = runner.test()
    run.ours = float(metrics['mIoU'])
    run.images = sum(meter.sizes)
    run.images_per_second = meter.images_per_second()
    run.peak_memory_mib = meter.peak
    run.memory, run.device = meter.memory, meter.device


def compare(runs: list[Run], data_root: str | None = None,
            checkpoints: dict[str, str] | None = None,
            work_dir: str = 'work_dirs/compare', dry_run: bool = False) -> Comparison:
    """Check every run's data, evaluate those whose data is in place (none with
    ``dry_run``, or when no run has its data), fill the cards' numbers."""
    checkpoints = checkpoints or {}
    result = Comparison(runs)
    ready = []
    for run in runs:
        if run.config is None:
            continue
        cfg, card = load_card(run.config)
        run.benchmark = card.get('dataset', run.benchmark)
        run.published = card.get('published_miou')
        run.source = card.get('source', '')
        run.tolerance = float(card.get('tolerance', 1.0))
        problem = data_problem(run.config, cfg, card, data_root)
        name = osp.splitext(osp.basename(run.config))[0]
        if problem:
            run.status = 'no data'
            result.missing.setdefault(run.benchmark, problem.split(': ', 1)[1]
                                      if ': ' in problem else problem)
        elif card.get('needs_checkpoint') and name not in checkpoints:
            run.status = f'skipped: needs a checkpoint (--checkpoint {name}=PATH)'
        else:
            ready.append((run, checkpoints.get(name)))
    if dry_run or not ready:
        return result
    for run, checkpoint in ready:
        name = osp.splitext(osp.basename(run.config))[0]
        evaluate(run, data_root, checkpoint, osp.join(work_dir, name))
    return result


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _fmt(value: float | None, spec: str = '.2f') -> str:
    return '-' if value is None else format(value, spec)


def method_summary(comparison: Comparison, method: str) -> dict:
    """One method's averages (over its evaluated benchmarks), speed and peak memory."""
    runs = [r for r in comparison.runs if r.method == method]
    done = [r for r in runs if r.ours is not None]
    ours = _mean([r.ours for r in done])
    published = _mean([r.published for r in done]) \
        if done and all(r.published is not None for r in done) else None
    images = sum(r.images for r in done)
    timed = [(r.images, r.images / r.images_per_second) for r in done
             if r.images_per_second]
    speed = sum(n for n, _ in timed) / sum(t for _, t in timed) if timed else None
    peaks = [r.peak_memory_mib for r in done if r.peak_memory_mib is not None]
    return dict(method=method, evaluated=[r.benchmark for r in done], average=ours,
                published_average=published,
                difference=None if ours is None or published is None else ours - published,
                images=images, images_per_second=speed,
                peak_memory_mib=max(peaks) if peaks else None,
                memory=done[0].memory if done else '', device=done[0].device if done else '')


def markdown(comparison: Comparison) -> str:
    """The one table: per method three lines (ours, published, difference), a column per
    benchmark, the average over the evaluated benchmarks, images/s and peak memory; then
    the statuses of the cells without a number and the sources."""
    benches = comparison.benchmarks
    head = ['method', '', *benches, 'average', 'images/s', 'peak memory (MiB)']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    notes = []
    for method in comparison.methods:
        cells = {r.benchmark: r for r in comparison.runs if r.method == method}
        s = method_summary(comparison, method)
        mem = '-' if s['peak_memory_mib'] is None else \
            f"{s['peak_memory_mib']:.0f} ({s['memory']})"
        ours = [('-' if cells.get(b) is None or cells[b].ours is None else
                 f'{cells[b].ours:.2f}') for b in benches]
        pub = [_fmt(cells[b].published) if b in cells else '-' for b in benches]
        diff = [('-' if b not in cells or cells[b].difference is None else
                 f'{cells[b].difference:+.2f}') for b in benches]
        speed = _fmt(s['images_per_second'], '.3g')
        lines.append(f'| {method} | ours | ' + ' | '.join(ours) +
                     f" | {_fmt(s['average'])} | {speed} | {mem} |")
        lines.append(f'| {method} | published | ' + ' | '.join(pub) +
                     f" | {_fmt(s['published_average'])} | | |")
        lines.append(f'| {method} | difference | ' + ' | '.join(diff) + ' | ' +
                     ('-' if s['difference'] is None else f"{s['difference']:+.2f}") +
                     ' | | |')
        for b in benches:
            run = cells.get(b)
            if run is not None and run.status:
                notes.append(f'{method} / {b}: {run.status}'
                             + (f' ({osp.basename(run.config)})' if run.config else ''))
            elif run is not None and run.result == 'FAIL':
                notes.append(f'{method} / {b}: outside the tolerance of its card '
                             f'(+-{run.tolerance:g})')
    devices = sorted({r.device for r in comparison.runs if r.device})
    out = lines + ['', 'average: over the benchmarks evaluated for the method; published '
                   'average: over the same benchmarks. images/s: the test step (forward + '
                   'post-processing), the first image left out as warm-up; '
                   + (f"measured on {'; '.join(devices)}." if devices else 'nothing measured.')]
    out += [f'- {n}' for n in notes]
    sources = sorted({r.source for r in comparison.runs if r.source})
    return '\n'.join(out + [''] + [f'source: {s}' for s in sources])


def to_json(comparison: Comparison) -> dict:
    """The comparison as plain data: every run (with its result) and each method's
    summary."""
    return dict(
        benchmarks=comparison.benchmarks,
        runs=[dict(asdict(r), difference=r.difference, result=r.result)
              for r in comparison.runs],
        methods=[method_summary(comparison, m) for m in comparison.methods],
        missing_data=comparison.missing)


def data_instructions(comparison: Comparison) -> str:
    """What to download and where, once per benchmark without data."""
    return '\n'.join(f'{bench}: {text}' for bench, text in comparison.missing.items())


def default_config_dir() -> str:
    """The repository's ``configs/`` (the folder beside the ``langseg`` package)."""
    return osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                    'configs')


def list_methods(config_dir: str) -> str:
    """Every method found: training-free or not (its first config's card), its
    benchmarks and its first default config."""
    lines = []
    for method, paths in sorted(find_method_configs(config_dir).items()):
        benches = [b for b in (*BENCHMARKS, *DATASETS) if b in paths]
        benches = list(dict.fromkeys(benches))
        first = default_config(paths, benches[0])
        _, card = load_card(first)
        kind = 'needs a checkpoint' if card.get('needs_checkpoint') else 'training-free'
        lines.append(f'{method} ({kind}): {", ".join(benches)} (e.g. '
                     f'{os.path.relpath(first, osp.dirname(config_dir))})')
    return '\n'.join(lines)


__all__ = ['BENCHMARKS', 'Comparison', 'Run', 'compare', 'data_instructions',
           'default_config', 'default_config_dir', 'evaluate', 'find_method_configs',
           'list_methods', 'markdown', 'method_of', 'method_summary', 'resolve', 'to_json']
