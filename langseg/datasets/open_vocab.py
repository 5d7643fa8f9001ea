"""Benchmarks of open-vocabulary segmentation that mmseg lacks: VOC20, COCO-Object,
ADE20K-847 and Pascal Context-459.

* VOC20: PASCAL VOC 2012 val without its background class (``reduce_zero_label``: label
  0 becomes 255 and is ignored; 20 classes).
* COCO-Object: COCO-Stuff164k's images with labels made by
  ``tools/dataset_converters/coco_object.py``: background 0 plus the 80 thing classes
  1-80, files ``<id>_instanceTrainIds.png``.
* ADE20K-847 (ADE20K-full, the 2021_17_01 release, validation images) and Pascal
  Context-459 (VOC 2010 val with the 459-class masks): the layouts made by CAT-Seg's
  ``datasets/prepare_ade20k_full.py`` and ``prepare_pascal_context_459.py`` (Cho et al.,
  CVPR 2024, github.com/KU-CVLAB/CAT-Seg), which the official ProxyCLIP code reads:
  labels are 16-bit TIFFs (``<name>.tif``), class indices 0..846 / 0..458 and 65535 for
  unlabelled pixels. Read with :class:`~langseg.datasets.transforms.LoadAnnotations16`
  (mmseg's ``LoadAnnotations`` casts to uint8 and would wrap every class >= 256) and
  evaluated with ``ignore_index=65535``. The class names are the lines of the official
  ProxyCLIP files ``cls_ade20k847.txt`` / ``cls_context459.txt`` (shipped in
  ``langseg/utils/vocabularies/``), in label order.
"""
from __future__ import annotations

from mmseg.datasets import BaseSegDataset, COCOStuffDataset, PascalVOCDataset

from ..registry import DATASETS
from ..utils.class_names import read_vocabulary, register_class_names

#: The unlabelled value of the 16-bit label maps of ADE20K-847 and Pascal Context-459.
IGNORE_16BIT = 65535


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


class _Labels16Dataset(BaseSegDataset):
    """A benchmark with 16-bit label maps (``.tif``), 65535 unlabelled, no reduce-zero."""

    def __init__(self, ann_file: str = '', img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.tif', reduce_zero_label: bool = False,
                 ignore_index: int = IGNORE_16BIT, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, ann_file=ann_file,
                         ignore_index=ignore_index, **kwargs)


@DATASETS.register_module()
class ADE20K847Dataset(_Labels16Dataset):
    """ADE20K-847: ADE20K-full validation (2000 images), 847 classes, CAT-Seg's layout
    ``images_detectron2/validation/*.jpg``, ``annotations_detectron2/validation/*.tif``."""

    METAINFO = dict(classes=tuple(read_vocabulary('cls_ade20k847.txt')))


@DATASETS.register_module()
class PascalContext459Dataset(_Labels16Dataset):
    """Pascal Context-459: VOC 2010 val (5104 images of
    ``ImageSets/SegmentationContext/val.txt``), 459 classes, masks
    ``annotations_detectron2/pc459_val/*.tif``."""

    METAINFO = dict(classes=tuple(read_vocabulary('cls_context459.txt')))


register_class_names('ade847', ADE20K847Dataset.METAINFO['classes'])
register_class_names('context459', PascalContext459Dataset.METAINFO['classes'])
