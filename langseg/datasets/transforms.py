"""Checked versions of the two loading transforms: bad data becomes one-line errors.

mmcv's ``LoadImageFromFile`` fails on an empty or corrupt file with an OpenCV traceback
(``!buf.empty()``) or an assertion, and mmseg's ``LoadAnnotations`` loads whatever the
label PNG holds: a label map of another size than its image breaks batching (train) or
the metric (test), and a value that is no class breaks the loss (train, ``Target 136 is
out of bounds``) or is silently dropped by the metric (test). The subclasses here raise
:class:`~langseg.utils.errors.DataError` naming the file and what was expected instead.

``tools/train.py`` and ``tools/test.py`` put them in place of the originals (see
:func:`langseg.datasets.checked_pipeline.install_checked_loading`); in a config they can
also be named directly::

    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations', num_classes=150, ignore_index=255),
"""
from __future__ import annotations

import os.path as osp
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations

from ..registry import TRANSFORMS
from ..utils.errors import DataError

#: How many offending label values an error message lists.
_SHOWN_VALUES = 8
#: How many files with invalid labels ``invalid_labels='ignore'`` reports per process.
_REPORTED_FILES = 5


def _why_undecodable(path: str) -> str | None:
    """Why the local file ``path`` cannot be decoded as an image; ``None`` if it can (or
    is no local file), i.e. when a loading failure had another cause."""
    if not osp.isfile(path):
        return None
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as exc:
        return f'the file cannot be read ({exc.strerror})'
    if not data:
        return 'the file is empty (0 bytes)'
    if cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is None:
        return 'the file is corrupt or not an image'
    return None


def _decode_error(kind: str, path: str, why: str) -> DataError:
    return DataError(f'cannot decode {kind} {path}: {why}; expected a readable image '
                     'file: fix or remove it (and its split entry) and run again')


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that raises :class:`DataError` for an empty, corrupt
    or unreadable file (same arguments; ``ignore_empty=True`` still returns ``None``)."""

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            out = super().transform(results)
        except FileNotFoundError:
            raise DataError(f'image {filename} does not exist: expected the file the '
                            'dataset lists (is the split file or data_prefix right?)'
                            ) from None
        except Exception:  # cv2.error, PIL errors, mmcv's 'failed to load image' assert
            why = _why_undecodable(filename)
            if why is None:  # the file decodes: something else failed, keep the traceback
                raise
            raise _decode_error('image', filename, why) from None
        return out


@TRANSFORMS.register_module()
class CheckedLoadAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` that checks the label map it loaded.

    After the parent applied ``reduce_zero_label`` and the dataset's ``label_map``:

    * the label map's height x width must equal the image's (``results['ori_shape']``,
      set by the image loader; not checked when absent);
    * with ``num_classes`` given, every value must be in ``[0, num_classes)`` or equal
      ``ignore_index``.

    Args:
        num_classes (int, optional): the number of classes of the dataset; ``None``
            skips the value check.
        ignore_index (int): the label value that is ignored. Default: 255.
        invalid_labels (str): ``'error'`` (default) raises :class:`DataError` naming the
            file, the offending values and the valid range; ``'ignore'`` sets those
            pixels to ``ignore_index`` (reported for the first few files).
        **kwargs: as for mmseg's ``LoadAnnotations``.
    """

    def __init__(self, num_classes: int | None = None, ignore_index: int = 255,
                 invalid_labels: str = 'error', **kwargs) -> None:
        super().__init__(**kwargs)
        if invalid_labels not in ('error', 'ignore'):
            raise ValueError(f"invalid_labels={invalid_labels!r}: expected 'error' or "
                             "'ignore'")
        self.num_classes = None if num_classes is None else int(num_classes)
        self.ignore_index = int(ignore_index)
        self.invalid_labels = invalid_labels
        self._reported = 0

    def _load_seg_map(self, results: dict) -> None:
        path = results['seg_map_path']
        try:
            super()._load_seg_map(results)
        except FileNotFoundError:
            raise DataError(f'label map {path} does not exist: expected a label PNG for '
                            f"image {results.get('img_path')} (is seg_map_path or "
                            'seg_map_suffix right?)') from None
        except Exception:  # cv2.error, PIL.UnidentifiedImageError, ...
            why = _why_undecodable(path)
            if why is None:  # the file decodes: something else failed, keep the traceback
                raise
            raise _decode_error('label map', path, why) from None
        gt = results['gt_seg_map']
        self._check_shape(gt, results, path)
        if self.num_classes is not None:
            results['gt_seg_map'] = self._check_values(gt, path)

    @staticmethod
    def _check_shape(gt: np.ndarray, results: dict, path: str) -> None:
        if gt.ndim != 2:
            raise DataError(f'label map {path} has shape {tuple(gt.shape)}: expected a '
                            'single-channel (H x W) PNG of class indices')
        ori_shape = results.get('ori_shape')
        if ori_shape is None:
            return
        expected = tuple(int(v) for v in ori_shape[:2])
        found = tuple(int(v) for v in gt.shape[:2])
        if found != expected:
            raise DataError(f'label map {path} is {found[0]}x{found[1]} (HxW) but its image '
                            f"{results.get('img_path')} is {expected[0]}x{expected[1]}: "
                            'expected a label map of the same size as its image')

    def _check_values(self, gt: np.ndarray, path: str) -> np.ndarray:
        if gt.dtype == np.uint8:
            present = np.flatnonzero(np.bincount(gt.ravel(), minlength=256))
        else:
            present = np.unique(gt)
        bad = [int(v) for v in present
               if (v < 0 or v >= self.num_classes) and v != self.ignore_index]
        if not bad:
            return gt
        shown = ', '.join(str(v) for v in bad[:_SHOWN_VALUES])
        if len(bad) > _SHOWN_VALUES:
            shown += f', ... ({len(bad)} values)'
        valid = f'0..{self.num_classes - 1} or {self.ignore_index} (ignored)'
        if self.invalid_labels == 'error':
            raise DataError(f'label map {path} holds values {shown} that are no class: '
                            f'expected {valid} for the {self.num_classes} classes of the '
                            "dataset (set data_checks=dict(invalid_labels='ignore') to "
                            'ignore such pixels)')
        gt = gt.copy()
        gt[np.isin(gt, bad)] = self.ignore_index
        if self._reported < _REPORTED_FILES:
            from mmengine.logging import print_log
            self._reported += 1
            more = ' (further files are not reported)' if \
                self._reported == _REPORTED_FILES else ''
            print_log(f'label map {osp.basename(path)} ({path}) holds values {shown} that '
                      f'are no class: set to ignore_index {self.ignore_index}{more}',
                      logger='current', level=30)
        return gt

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index}, invalid_labels={self.invalid_labels!r}, '
                f'reduce_zero_label={self.reduce_zero_label}, '
                f'imdecode_backend={self.imdecode_backend!r})')


class _Load16BitSegMap(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` without its cast to uint8: the label map keeps the
    file's integer type (16-bit TIFF or PNG), so classes >= 256 survive."""

    def _load_seg_map(self, results: dict) -> None:
        import mmcv
        from mmengine import fileio
        path = results['seg_map_path']
        gt = mmcv.imfrombytes(fileio.get(path, backend_args=self.backend_args),
                              flag='unchanged', backend=self.imdecode_backend).squeeze()
        if gt.dtype.kind not in 'iu' or gt.dtype.itemsize > 2:
            raise DataError(f'label map {path} holds {gt.dtype} values: expected an 8- or '
                            '16-bit integer label image (e.g. a 16-bit TIFF)')
        gt = gt.astype(np.int32)  # room for label_map values; 65535 stays 65535
        if self.reduce_zero_label is None:
            self.reduce_zero_label = results['reduce_zero_label']
        if self.reduce_zero_label or results.get('reduce_zero_label'):
            raise DataError(f'label map {path}: reduce_zero_label is not supported for '
                            '16-bit labels: expected reduce_zero_label=False')
        if results.get('label_map', None) is not None:
            copy = gt.copy()
            for old_id, new_id in results['label_map'].items():
                gt[copy == old_id] = new_id
        results['gt_seg_map'] = gt
        results['seg_fields'].append('gt_seg_map')


@TRANSFORMS.register_module()
class LoadAnnotations16(CheckedLoadAnnotations, _Load16BitSegMap):
    """:class:`CheckedLoadAnnotations` for label maps with more than 256 classes (ADE20K-847,
    Pascal Context-459: 16-bit TIFFs, 65535 unlabelled). The values are kept as they are
    (int32), not cast to uint8 as mmseg's ``LoadAnnotations`` does (which would turn class
    300 into 44). ``tools/test.py`` fills ``num_classes`` and ``ignore_index`` from the
    dataset as for the other loaders; same arguments as :class:`CheckedLoadAnnotations`."""


__all__ = ['CheckedLoadAnnotations', 'CheckedLoadImageFromFile', 'LoadAnnotations16']
