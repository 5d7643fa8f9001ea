"""What ``tools/reproduce.py`` does: evaluate configs and put ours beside the published
numbers of their protocol cards (the ``protocol`` dict at the end of every evaluation
config: dataset, published mIoU and its source, tolerance, weights, whether a checkpoint is
needed).

Data: every config's test data root (``data/...``, or under ``--data-root``) is checked
first; when any is missing, nothing is evaluated and the instructions say, per dataset,
what to download, where to put it and which converter to run (exit 2).
"""
from __future__ import annotations

import os.path as osp
from dataclasses import dataclass

from ..datasets.checks import DATASET_LAYOUTS, check_dataset_cfg
from ..utils.errors import ConfigError, DataError
from .config import load_config

#: dataset key -> (folder under data/, what to download, how to prepare it)
DATASETS = {
    'voc21': ('VOCdevkit/VOC2012',
              'http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar',
              'extract it into data/ (it holds VOCdevkit/VOC2012)'),
    'voc20': ('VOCdevkit/VOC2012',
              'http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar',
              'extract it into data/ (it holds VOCdevkit/VOC2012)'),
    'context60': ('VOCdevkit/VOC2010',
                  'http://host.robots.ox.ac.uk/pascal/VOC/voc2010/VOCtrainval_03-May-2010.tar '
                  'and the Detail API trainval_merged.json',
                  "extract into data/, then run mmsegmentation's "
                  'tools/dataset_converters/pascal_context.py (SegmentationClassContext)'),
    'context59': ('VOCdevkit/VOC2010',
                  'http://host.robots.ox.ac.uk/pascal/VOC/voc2010/VOCtrainval_03-May-2010.tar '
                  'and the Detail API trainval_merged.json',
                  "extract into data/, then run mmsegmentation's "
                  'tools/dataset_converters/pascal_context.py (SegmentationClassContext)'),
    'coco-stuff': ('coco_stuff164k',
                   'http://images.cocodataset.org/zips/val2017.zip and http://calvin.inf.ed.'
                   'ac.uk/wp-content/uploads/data/cocostuffdataset/stuffthingmaps_trainval2017.zip',
                   "unzip into data/coco_stuff164k/{images,annotations}, then run "
                   "mmsegmentation's tools/dataset_converters/coco_stuff164k.py"),
    'coco-object': ('coco_stuff164k',
                    'http://images.cocodataset.org/zips/val2017.zip and http://calvin.inf.ed.'
                    'ac.uk/wp-content/uploads/data/cocostuffdataset/stuffthingmaps_trainval2017.zip',
                    'unzip into data/coco_stuff164k/{images,annotations}, then run '
                    'python tools/dataset_converters/coco_object.py data/coco_stuff164k '
                    '--splits val2017'),
    'cityscapes': ('cityscapes',
                   'https://www.cityscapes-dataset.com/ (leftImg8bit_trainvaltest.zip, '
                   'gtFine_trainvaltest.zip; free account)',
                   "unzip into data/cityscapes, then run mmsegmentation's "
                   'tools/dataset_converters/cityscapes.py (labelTrainIds)'),
    'ade20k': ('ade/ADEChallengeData2016',
               'http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip',
               'unzip into data/ade'),
    'ade847': ('ADE20K_2021_17_01',
               'ADE20K-full (ADE20K_2021_17_01) from '
               'https://groups.csail.mit.edu/vision/datasets/ADE20K/request_data/ (free account)',
               'unzip into data/, then run CAT-Seg\'s datasets/prepare_ade20k_full.py with '
               'DETECTRON2_DATASETS=data (github.com/KU-CVLAB/CAT-Seg)'),
    'context459': ('VOCdevkit/VOC2010',
                   'http://host.robots.ox.ac.uk/pascal/VOC/voc2010/VOCtrainval_03-May-2010.tar '
                   'and https://roozbehm.info/pascal-context/trainval.tar.gz (459-class masks)',
                   'extract into data/VOCdevkit/VOC2010 (trainval/*.mat, labels.txt), then run '
                   'CAT-Seg\'s datasets/prepare_pascal_context_459.py with '
                   'DETECTRON2_DATASETS=data'),
}


@dataclass
class Row:
    config: str
    dataset: str
    published: float | None
    source: str
    tolerance: float
    ours: float | None = None
    status: str = ''

    @property
    def result(self) -> str:
        return verdict(self.status, self.ours, self.published, self.tolerance)


def parse_checkpoints(items: list[str]) -> dict[str, str]:
    """``--checkpoint NAME=PATH`` arguments (of tools/reproduce.py and tools/compare.py)
    -> ``{config stem: checkpoint path}``."""
    checkpoints = {}
    for item in items:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            raise ConfigError(f'--checkpoint {item!r}: expected NAME=PATH with NAME the '
                              "config's file stem")
        checkpoints[name] = path
    return checkpoints


def verdict(status: str, ours: float | None, published: float | None,
            tolerance: float) -> str:
    """A row's result: its status when it did not run, else 'pass' within the card's
    tolerance of the published mIoU, 'FAIL' outside it, or 'no published number'."""
    if status:
        return status
    if published is None:
        return 'no published number'
    if ours is None:
        return 'not evaluated'
    return 'pass' if abs(ours - published) <= tolerance else 'FAIL'


def _moved_root(root: str, data_root: str | None) -> str:
    if not data_root or not root:
        return root
    rel = root[len('data/'):] if root.startswith('data/') else osp.basename(root)
    return osp.join(data_root, rel)


def _test_dataset(cfg) -> dict:
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:           # wrappers
        dataset = dataset.dataset
    return dataset


def load_card(path: str):
    """Load an evaluation config and its protocol card: ``(cfg, card)``."""
    cfg = load_config(path)
    card = cfg.get('protocol')
    if not card:
        raise ConfigError(f'{path} has no protocol card: expected a `protocol = dict('
                          'dataset=..., published_miou=..., source=..., tolerance=...)` '
                          'in the config (the evaluation configs carry one)')
    return cfg, card


def data_problem(path: str, cfg, card, data_root: str | None) -> str | None:
    """Check the test data of a loaded config (its data root moved under ``data_root``
    when given, in ``cfg``): ``None`` when it is in place, else what to download, where
    to put it and the expected layout."""
    dataset = _test_dataset(cfg)
    dataset['data_root'] = _moved_root(dataset.get('data_root', ''), data_root)
    try:
        check_dataset_cfg(dataset.to_dict(), 'test_dataloader', check_empty_files=False)
    except DataError as exc:
        key = card.get('dataset')
        folder, url, how = DATASETS.get(key, ('?', 'see docs/getting_started.md', ''))
        where = osp.join(data_root or 'data', folder)
        return (f'{osp.basename(path)} ({key}): {exc}\n'
                f'    download: {url}\n    place: {where} ({how})\n'
                f'    layout: {DATASET_LAYOUTS.get(dataset.get("type"), "")}')
    return None


def plan(configs: list[str], data_root: str | None) -> tuple[list, list[str]]:
    """Load every config and check its test data: ``([(path, cfg, card)], problems)``."""
    loaded, problems = [], []
    for path in configs:
        cfg, card = load_card(path)
        problem = data_problem(path, cfg, card, data_root)
        if problem:
            problems.append(problem)
        loaded.append((path, cfg, card))
    return loaded, problems


def reproduce(configs: list[str], data_root: str | None = None,
              checkpoints: dict[str, str] | None = None,
              work_dir: str = 'work_dirs/reproduce') -> list[Row]:
    """Evaluate each config (see the module docstring); returns the rows."""
    from .test import test
    checkpoints = checkpoints or {}
    loaded, problems = plan(configs, data_root)
    if problems:
        raise DataError('the data of these configs is not in place (nothing was '
                        'evaluated):\n' + '\n'.join(problems))
    rows = []
    for path, cfg, card in loaded:
        name = osp.splitext(osp.basename(path))[0]
        row = Row(name, card.get('dataset', '?'), card.get('published_miou'),
                  card.get('source', ''), float(card.get('tolerance', 1.0)))
        checkpoint = checkpoints.get(name)
        if card.get('needs_checkpoint') and checkpoint is None:
            row.status = f'skipped: needs a checkpoint (--checkpoint {name}=PATH)'
            rows.append(row)
            continue
        options = {}
        if data_root:
            options['test_dataloader.dataset.data_root'] = _test_dataset(cfg)['data_root']
        metrics = test(path, checkpoint, work_dir=osp.join(work_dir, name),
                       cfg_options=options or None)
        row.ours = float(metrics['mIoU'])
        rows.append(row)
    return rows


def table(rows: list[Row]) -> str:
    lines = ['| config | dataset | published mIoU | ours | difference | tolerance | result |',
             '|---|---|---|---|---|---|---|']
    for r in rows:
        ours = '-' if r.ours is None else f'{r.ours:.2f}'
        pub = '-' if r.published is None else f'{r.published:.2f}'
        diff = '-' if r.ours is None or r.published is None else f'{r.ours - r.published:+.2f}'
        lines.append(f'| {r.config} | {r.dataset} | {pub} | {ours} | {diff} | '
                     f'{r.tolerance:.1f} | {r.result} |')
    sources = sorted({r.source for r in rows if r.source})
    return '\n'.join(lines + [''] + [f'source: {s}' for s in sources])


__all__ = ['DATASETS', 'Row', 'data_problem', 'load_card', 'plan', 'reproduce', 'table']
