"""Class-name lists of the benchmarks, by key, and the vocabulary files.

The lists of datasets mmseg ships come from its ``METAINFO`` (so labels and names never
disagree); COCO-Object is background plus COCO-Stuff's 80 thing classes (the first 80 of
COCO-Stuff's 171, in COCO's order); VOC20 is VOC without background.
"""
from __future__ import annotations

import os.path as osp

from mmseg.datasets import (ADE20KDataset, CityscapesDataset, COCOStuffDataset,
                            PascalContextDataset, PascalContextDataset59,
                            PascalVOCDataset)

from .errors import ConfigError


def _coco_object() -> tuple[str, ...]:
    return ('background', ) + tuple(COCOStuffDataset.METAINFO['classes'][:80])


CLASS_NAMES: dict[str, tuple[str, ...]] = {
    'ade20k': tuple(ADE20KDataset.METAINFO['classes']),
    'cityscapes': tuple(CityscapesDataset.METAINFO['classes']),
    'voc': tuple(PascalVOCDataset.METAINFO['classes']),
    'voc20': tuple(PascalVOCDataset.METAINFO['classes'][1:]),
    'context60': tuple(PascalContextDataset.METAINFO['classes']),
    'context59': tuple(PascalContextDataset59.METAINFO['classes']),
    'coco_stuff': tuple(COCOStuffDataset.METAINFO['classes']),
    'coco_object': _coco_object(),
}


def register_class_names(key: str, names) -> None:
    """Add a class-name list under ``key`` (datasets defined in langseg register theirs,
    e.g. the toy shapes' ``'toy'``, when their module is imported)."""
    names = tuple(str(n) for n in names)
    if key in CLASS_NAMES and CLASS_NAMES[key] != names:
        raise ConfigError(f'class-name list {key!r} is already registered with other '
                          'names: expected a new key')
    CLASS_NAMES[key] = names


def get_class_names(key: str) -> tuple[str, ...]:
    """The class names of a benchmark (``ade20k``, ``cityscapes``, ``voc``, ``voc20``,
    ``context60``, ``context59``, ``coco_stuff``, ``coco_object``, ``toy``)."""
    if key not in CLASS_NAMES:
        raise ConfigError(f'unknown class-name list {key!r}: expected one of '
                          f'{", ".join(CLASS_NAMES)} or a list of names')
    return CLASS_NAMES[key]


VOCABULARY_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'vocabularies')


def read_vocabulary(path: str) -> list[str]:
    """Class names from a vocabulary file: a path, or a file name in
    ``langseg/utils/vocabularies/`` (``cls_voc21.txt``: the official ProxyCLIP file, VOC
    with 26 background words on line 0; ``rich_voc21.txt``: langseg's richer one; ...).
    One class per line, synonyms separated by ``;``, ``#`` comments."""
    full = osp.expanduser(path)
    if not osp.isfile(full):
        full = osp.join(VOCABULARY_DIR, path)
    if not osp.isfile(full):
        import glob
        known = sorted(osp.basename(p) for p in glob.glob(osp.join(VOCABULARY_DIR, '*.txt')))
        raise ConfigError(f'vocabulary file {path!r} not found: expected a path or one of '
                          f'{", ".join(known)}')
    names = []
    with open(full, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                names.append('; '.join(w.strip() for w in line.split(';') if w.strip()))
    if not names:
        raise ConfigError(f'vocabulary file {full} lists no class names')
    return names
