"""Images read within bounds: the header first, the pixels only when the size is sane.

A 1 MB PNG can hold 20000 x 20000 zeros; decoding it takes 1.2 GB and seconds before any
size check could look at the array. :func:`read_image` therefore reads the header with
Pillow (``Image.open`` parses the header only and decodes nothing), checks the size
against three bounds, and only then decodes with OpenCV:

* ``max_side``: the longer side, in pixels (default 8192; the web page's ``--max-side``);
* ``max_pixels``: width x height (default ``max_side ** 2``);
* ``max_aspect``: the longer side over the shorter (default 10). The segmenter scales the
  short side to the config's size (336 for ProxyCLIP): a 1 x 4000 image would become
  336 x 1,344,000 pixels and minutes of windows, so extreme shapes are refused here, and
  :class:`~langseg.apis.OpenVocabularySegmenter` also bounds the long side after resizing.

A file Pillow cannot identify (not JPEG, PNG, BMP, WebP, TIFF, GIF, ...) is refused before
OpenCV sees it. Every refusal is one :class:`~langseg.utils.errors.DataError` line naming
the size and the bound.
"""
from __future__ import annotations

import io
import os.path as osp
import re
import warnings

import numpy as np

from ..utils.errors import DataError

DEFAULT_MAX_SIDE = 8192
DEFAULT_MAX_ASPECT = 10.0
_FORMATS = 'a JPEG, PNG, BMP or WebP image'


def image_size(data: bytes, where: str) -> tuple[int, int]:
    """``(width, height)`` from the header of encoded ``data``; nothing is decoded."""
    from PIL import Image, UnidentifiedImageError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # DecompressionBombWarning: bounds follow
            with Image.open(io.BytesIO(data)) as im:
                return int(im.size[0]), int(im.size[1])
    except Image.DecompressionBombError as exc:  # over 2x Pillow's own pixel limit
        found = re.search(r'\((\d+) pixels\)', str(exc))
        pixels = f'{int(found.group(1)):,} pixels' if found else 'too many pixels'
        raise DataError(f'{where} holds {pixels}: refused before decoding (a '
                        'decompression bomb?); expected a photo-sized image') from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise DataError(f'{where} is not an image: expected {_FORMATS} file') from None


def check_image_size(width: int, height: int, where: str,
                     max_side: int | None = DEFAULT_MAX_SIDE, max_pixels: int | None = None,
                     max_aspect: float | None = DEFAULT_MAX_ASPECT) -> None:
    """Raise :class:`DataError` unless ``width x height`` is within the bounds."""
    if width < 1 or height < 1:
        raise DataError(f'{where} is {width}x{height} pixels: expected a non-empty image')
    if max_side and max(width, height) > max_side:
        raise DataError(f'{where} is {width}x{height} pixels: the limit is {max_side} on the '
                        'longer side')
    max_pixels = max_pixels or (max_side * max_side if max_side else None)
    if max_pixels and width * height > max_pixels:
        raise DataError(f'{where} is {width}x{height} pixels ({width * height:,}): the '
                        f'limit is {max_pixels:,} pixels')
    if max_aspect and max(width, height) > max_aspect * min(width, height):
        raise DataError(f'{where} is {width}x{height} pixels, an aspect ratio of '
                        f'{max(width, height) / min(width, height):.0f}:1: expected at most '
                        f'{max_aspect:g}:1 (crop or pad it)')


def read_image(path_or_bytes: str | bytes, max_side: int | None = DEFAULT_MAX_SIDE,
               max_pixels: int | None = None,
               max_aspect: float | None = DEFAULT_MAX_ASPECT) -> np.ndarray:
    """An RGB uint8 array from a file path or encoded bytes, within the bounds (see the
    module docstring); one-line :class:`DataError` otherwise."""
    import cv2
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data, where = bytes(path_or_bytes), 'the upload'
    else:
        if not osp.isfile(path_or_bytes):
            raise DataError(f'image {path_or_bytes} does not exist')
        with open(path_or_bytes, 'rb') as f:
            data = f.read()
        where = f'image {path_or_bytes}'
    if not data:
        raise DataError(f'{where} is empty (0 bytes): expected {_FORMATS}')
    width, height = image_size(data, where)
    check_image_size(width, height, where, max_side, max_pixels, max_aspect)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DataError(f'{where} is not an image: expected {_FORMATS} file')
    return np.ascontiguousarray(bgr[..., ::-1])


__all__ = ['DEFAULT_MAX_ASPECT', 'DEFAULT_MAX_SIDE', 'check_image_size', 'image_size',
           'read_image']
