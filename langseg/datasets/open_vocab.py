"""Benchmarks of open-vocabulary segmentation that mmseg lacks: VOC20 and COCO-Object.

* VOC20: PASCAL VOC 2012 val without its background class (``reduce_zero_label``: label
  0 becomes 255 and is ignored; 20 classes).
* COCO-Object: COCO-Stuff164k's images with labels made by
  ``tools/dataset_converters/coco_object.py``: background 0 plus the 80 thing classes
  1-80, files ``<id>_instanceTrainIds.png``.
"""
from __future__ import annotations

from mmseg.datasets import BaseSegDataset, COCOStuffDataset, PascalVOCDataset

from ..registry import DATASETS


@DATASETS.register_module()
class PascalVOC20Dataset(BaseSegDataset):
    """PASCAL VOC 2012 without background (20 classes), VOC's folder layout."""

    METAINFO = dict(classes=tuple(PascalVOCDataset.METAINFO['classes'][1:]),
                    palette=[list(p) for p in PascalVOCDataset.METAINFO['palette'][1:]])

    def __init__(self, ann_file: str = '', img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png', reduce_zero_label: bool = True,
                 **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, ann_file=ann_file, **kwargs)


@DATASETS.register_module()
class COCOObjectDataset(BaseSegDataset):
    """COCO-Object: background + COCO's 80 thing classes (81), COCO-Stuff's layout."""

    METAINFO = dict(classes=('background', ) + tuple(COCOStuffDataset.METAINFO['classes'][:80]),
                    palette=[[0, 0, 0]] + [list(p) for p in
                                           COCOStuffDataset.METAINFO['palette'][:80]])

    def __init__(self, img_suffix: str = '.jpg',
                 seg_map_suffix: str = '_instanceTrainIds.png',
                 reduce_zero_label: bool = False, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
