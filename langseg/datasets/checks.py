"""Up-front checks of the data a config points to, with the expected folder layout.

mmseg builds datasets lazily and, given a wrong ``data_root``, fails deep inside a
DataLoader (or silently evaluates on zero images). The tools call
:func:`check_data_roots` before building the runner, so a wrong path is reported as one
line naming the path and the layout the dataset type expects. They also look for empty
(0-byte) images with one ``stat`` per image, so that a truncated copy is reported before
the runner writes anything (a corrupt but non-empty file is found by the checked loader,
:class:`langseg.datasets.transforms.CheckedLoadImageFromFile`, when it is read).
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Any, Iterator

from ..utils.errors import DataError

#: The layout each dataset type expects under ``data_root`` (see docs/getting_started.md).
DATASET_LAYOUTS: dict[str, str] = {
    'ADE20KDataset': 'ADEChallengeData2016/{images,annotations}/{training,validation}/'
                     '(*.jpg, *.png)',
    'CityscapesDataset': 'cityscapes/{leftImg8bit,gtFine}/{train,val}/<city>/'
                         '(*_leftImg8bit.png, *_gtFine_labelTrainIds.png)',
    'PascalVOCDataset': 'VOCdevkit/VOC2012/{JPEGImages,SegmentationClass[Aug]}, '
                        'ImageSets/Segmentation/{train,val,aug}.txt',
    'PascalContextDataset': 'VOCdevkit/VOC2010/{JPEGImages,SegmentationClassContext}, '
                            'ImageSets/SegmentationContext/{train,val}.txt',
    'PascalContextDataset59': 'VOCdevkit/VOC2010/{JPEGImages,SegmentationClassContext}, '
                              'ImageSets/SegmentationContext/{train,val}.txt',
    'COCOStuffDataset': 'coco_stuff164k/{images,annotations}/{train2017,val2017}/'
                        '(*.jpg, *_labelTrainIds.png)',
    'PascalVOC20Dataset': 'VOCdevkit/VOC2012/{JPEGImages,SegmentationClass}, '
                          'ImageSets/Segmentation/val.txt',
    'FolderSegDataset': 'classes.txt, images/<split>/*.jpg|png, masks/<split>/*.png',
    'ToyShapesDataset': 'meta.json, {images,annotations}/{training,validation}/'
                        '(*.jpg, *.png)',
    'COCOObjectDataset': 'coco_stuff164k/{images,annotations}/val2017/'
                         '(*.jpg, *_instanceTrainIds.png from '
                         'tools/dataset_converters/coco_object.py)',
    'ADE20K847Dataset': 'ADE20K_2021_17_01/{images_detectron2,annotations_detectron2}/'
                        'validation/(*.jpg, 16-bit *.tif from CAT-Seg\'s '
                        'datasets/prepare_ade20k_full.py)',
    'PascalContext459Dataset': 'VOCdevkit/VOC2010/{JPEGImages,annotations_detectron2/'
                               'pc459_val (16-bit *.tif from CAT-Seg\'s '
                               'datasets/prepare_pascal_context_459.py)}, '
                               'ImageSets/SegmentationContext/val.txt',
}
_IMG_SUFFIX_DEFAULTS = {'CityscapesDataset': '_leftImg8bit.png'}
_SELF_GENERATING = {'ToyShapesDataset', 'ToyImageTextDataset'}


def _leaf_datasets(cfg: Any) -> Iterator[dict]:
    """Yield the leaf dataset configs of a (possibly wrapped) dataset config."""
    if not isinstance(cfg, dict):
        return
    if 'datasets' in cfg:  # ConcatDataset
        for sub in cfg['datasets']:
            yield from _leaf_datasets(sub)
    elif cfg.get('type') in ('RepeatDataset', 'ClassBalancedDataset', 'MultiImageMixDataset'):
        yield from _leaf_datasets(cfg.get('dataset'))
    else:
        yield cfg


def _has_file_with_suffix(folder: str, suffix: str) -> bool:
    for _, _, files in os.walk(folder, followlinks=True):
        if any(f.endswith(suffix) for f in files):
            return True
    return False


def _image_paths(img_dir: str, suffix: str, split_file: str | None) -> Iterator[str]:
    """The image paths a BaseSegDataset lists: the split file's names, else every file of
    ``img_dir`` (recursively) ending with ``suffix``."""
    if split_file:
        with open(split_file) as f:
            for line in f:
                name = line.strip()
                if name:
                    yield osp.join(img_dir, name + suffix)
        return
    stack = [img_dir]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=True):
                    stack.append(entry.path)
                elif entry.name.endswith(suffix):
                    yield entry.path


def check_no_empty_images(img_dir: str, suffix: str, split_file: str | None = None) -> None:
    """Raise :class:`DataError` for the first empty (0-byte) image of a dataset: one
    ``stat`` per image (a second or so for 100k local files). Missing files are left to
    the loader."""
    for path in _image_paths(img_dir, suffix, split_file):
        try:
            empty = os.stat(path).st_size == 0
        except OSError:
            continue
        if empty:
            raise DataError(f'cannot decode image {path}: the file is empty (0 bytes); '
                            'expected a readable image file: fix or remove it (and its '
                            'split entry) and run again')


def check_dataset_cfg(ds: dict, loader: str = 'train_dataloader',
                      check_empty_files: bool = True) -> None:
    """Raise :class:`DataError` if a leaf dataset config points to no images, or (with
    ``check_empty_files``) to an empty image file."""
    ds_type = str(ds.get('type', ''))
    if ds_type in _SELF_GENERATING:  # generated on first use; checked once it exists
        data_root = ds.get('data_root') or ''
        img_dir = osp.join(data_root, (ds.get('data_prefix') or {}).get('img_path', ''))
        if ds_type == 'ToyShapesDataset' and data_root and \
                osp.isfile(osp.join(data_root, 'meta.json')):
            suffix = ds.get('img_suffix', '.jpg')
            if not osp.isdir(img_dir) or not _has_file_with_suffix(img_dir, suffix):
                raise DataError(f'{img_dir} holds no {suffix} images for {ds_type}: expected '
                                f'{DATASET_LAYOUTS[ds_type]} under {data_root} (remove the '
                                'folder to generate it again)')
            if check_empty_files:
                check_no_empty_images(img_dir, suffix)
        return
    layout = DATASET_LAYOUTS.get(ds_type, 'the layout of the dataset type')
    data_root = ds.get('data_root') or ''
    if ds_type == 'FolderSegDataset':
        _check_folder_dataset(ds, loader, layout)
        return
    if data_root and not osp.isdir(data_root):
        raise DataError(f'data root {data_root} of {ds_type} does not exist: expected '
                        f'{layout} (see docs/getting_started.md; point the dataloaders at '
                        f'it with --cfg-options {loader}.dataset.data_root=...)')
    prefix = ds.get('data_prefix', {}) or {}
    img_dir = osp.join(data_root, prefix.get('img_path', ''))
    suffix = ds.get('img_suffix', _IMG_SUFFIX_DEFAULTS.get(ds_type, '.jpg'))
    if not osp.isdir(img_dir) or not _has_file_with_suffix(img_dir, suffix):
        raise DataError(f'{img_dir} holds no {suffix} images for {ds_type}: expected '
                        f'{layout} under {data_root or "."}')
    ann_file = ds.get('ann_file')
    split_file = None
    if ann_file:
        split_file = ann_file if osp.isabs(ann_file) else osp.join(data_root, ann_file)
        if not osp.isfile(split_file):
            raise DataError(f'split file {split_file} of {ds_type} does not exist: expected '
                            f'{layout}')
    if check_empty_files:
        check_no_empty_images(img_dir, suffix, split_file)


def _check_folder_dataset(ds: dict, loader: str, layout: str) -> None:
    from .folder import IMAGE_SUFFIXES, folder_classes
    data_root = ds.get('data_root') or ''
    if not osp.isdir(data_root):
        raise DataError(f'data root {data_root} of FolderSegDataset does not exist: expected '
                        f'{layout} (see docs/getting_started.md, "Your own data"; point the '
                        f'dataloader at it with --cfg-options {loader}.dataset.data_root=...)')
    folder_classes(data_root, ds.get('classes_file', 'classes.txt'))
    img_dir = osp.join(data_root, ds.get('img_dir', 'images'), ds.get('split', 'val'))
    if not osp.isdir(img_dir) or not any(_has_file_with_suffix(img_dir, s)
                                         for s in IMAGE_SUFFIXES):
        raise DataError(f'{img_dir} holds no images for FolderSegDataset: expected {layout}')


def check_data_roots(cfg: Any, loaders: tuple[str, ...] = ('train_dataloader',
                                                            'val_dataloader'),
                     check_empty_files: bool = True) -> None:
    """Check the datasets of the named dataloaders of a config (see module docstring)."""
    for key in loaders:
        loader = cfg.get(key)
        if loader:
            for ds in _leaf_datasets(loader.get('dataset')):
                check_dataset_cfg(ds, key, check_empty_files)
