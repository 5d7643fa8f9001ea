"""Your own data without writing a dataset class: a folder of images, PNG masks and a
class-name file.

    data/my_data/
      classes.txt               one class per line, in label order (line i = label i);
                                synonyms for open-vocabulary models with ";"
                                ("car; automobile"), "#" starts a comment
      images/train/a.jpg ...    .jpg, .jpeg, .png, .bmp or .webp
      images/val/b.png ...
      masks/train/a.png ...     single-channel PNG of the same size and name (stem) as
      masks/val/b.png ...       its image; 255 = ignored (``ignore_index``)

``FolderSegDataset(data_root='data/my_data', split='val')`` lists every image of
``images/<split>`` (recursively, sorted) with the mask of the same relative stem in
``masks/<split>``; an image without its mask is an error naming both (``masks=False``
allows mask-less folders for prediction only). The classes come from the file, so the same
folder serves every trained method (``num_classes`` = the number of lines) and every
open-vocabulary evaluator (``class_names='data/my_data/classes.txt'``). Config templates:
``configs/folder/``; how-to: docs/getting_started.md, "Your own data".
"""
from __future__ import annotations

import os
import os.path as osp

from mmseg.datasets import BaseSegDataset

from ..registry import DATASETS
from ..utils.class_names import read_vocabulary
from ..utils.errors import DataError

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def folder_classes(data_root: str, classes_file: str = 'classes.txt') -> list[str]:
    """The class names of a folder dataset, from its class file (absolute or under
    ``data_root``)."""
    path = classes_file if osp.isabs(classes_file) else osp.join(data_root, classes_file)
    if not osp.isfile(path):
        raise DataError(f'class file {path} does not exist: expected one class name per '
                        'line, in label order (see docs/getting_started.md, "Your own data")')
    names = read_vocabulary(path)
    if not names:
        raise DataError(f'class file {path} names no class: expected one class per line')
    return names


@DATASETS.register_module()
class FolderSegDataset(BaseSegDataset):
    """Images + PNG masks + a class file (see the module docstring).

    Args:
        data_root: the folder.
        split: the sub-folder of ``images/`` and ``masks/`` (``'train'``, ``'val'``, ...).
        classes_file: the class file (default ``classes.txt`` in ``data_root``).
        img_dir, mask_dir: the image and mask folders under ``data_root``.
        masks: whether masks are required.
        reduce_zero_label: label 0 is "other" and ignored (as ADE20K), the classes file
            then lists the classes of labels 1.. .
        **kwargs: as for mmseg's ``BaseSegDataset`` (``pipeline``, ``ignore_index``...).
    """

    METAINFO: dict = dict()

    def __init__(self, data_root: str, split: str = 'val', classes_file: str = 'classes.txt',
                 img_dir: str = 'images', mask_dir: str = 'masks', masks: bool = True,
                 reduce_zero_label: bool = False, **kwargs) -> None:
        self.split, self.masks = split, bool(masks)
        names = folder_classes(data_root, classes_file)
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        metainfo.setdefault('classes', tuple(names))
        super().__init__(data_root=data_root, metainfo=metainfo,
                         data_prefix=dict(img_path=osp.join(img_dir, split),
                                          seg_map_path=osp.join(mask_dir, split)),
                         img_suffix='', seg_map_suffix='.png',
                         reduce_zero_label=reduce_zero_label, **kwargs)

    def load_data_list(self) -> list[dict]:
        img_root = self.data_prefix['img_path']
        seg_root = self.data_prefix['seg_map_path']
        if not osp.isdir(img_root):
            raise DataError(f'image folder {img_root} does not exist: expected '
                            f'images/{self.split}/ under {self.data_root}')
        items = []
        for folder, _, files in os.walk(img_root, followlinks=True):
            for name in files:
                if name.lower().endswith(IMAGE_SUFFIXES):
                    items.append(osp.relpath(osp.join(folder, name), img_root))
        if not items:
            raise DataError(f'{img_root} holds no images: expected files ending with '
                            f'{", ".join(IMAGE_SUFFIXES)}')
        data_list = []
        for rel in sorted(items):
            info = dict(img_path=osp.join(img_root, rel), label_map=self.label_map,
                        reduce_zero_label=self.reduce_zero_label, seg_fields=[])
            mask = osp.join(seg_root, osp.splitext(rel)[0] + '.png')
            if osp.isfile(mask):
                info['seg_map_path'] = mask
            elif self.masks:
                raise DataError(f'image {info["img_path"]} has no mask {mask}: expected a '
                                'PNG of the same name in the mask folder (or masks=False '
                                'to predict without labels)')
            data_list.append(info)
        return data_list


__all__ = ['FolderSegDataset', 'folder_classes']
