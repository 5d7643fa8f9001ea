"""Class-name lists of the benchmarks, by key.

The lists of datasets mmseg ships come from its ``METAINFO`` (so labels and names never
disagree); COCO-Object is background plus COCO-Stuff's 80 thing classes (the first 80 of
COCO-Stuff's 171, in COCO's order); VOC20 is VOC without background.
"""
from __future__ import annotations

from mmseg.datasets import (ADE20KDataset, CityscapesDataset, COCOStuffDataset,
                            PascalContextDataset, PascalContextDataset59,
                            PascalVOCDataset)

from ..utils.errors import ConfigError
from .toy_shapes import TOY_CLASSES


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
    'toy': TOY_CLASSES,
}


def get_class_names(key: str) -> tuple[str, ...]:
    """The class names of a benchmark (``ade20k``, ``cityscapes``, ``voc``, ``voc20``,
    ``context60``, ``context59``, ``coco_stuff``, ``coco_object``, ``toy``)."""
    if key not in CLASS_NAMES:
        raise ConfigError(f'unknown class-name list {key!r}: expected one of '
                          f'{", ".join(CLASS_NAMES)} or a list of names')
    return CLASS_NAMES[key]
