"""Image-text pairs for SegCLIP pretraining: datasets and transforms.

Datasets (one sample per caption; ``data_info`` = ``img_path`` + ``caption``):

* :class:`COCOCaptionsDataset`: the official ``captions_train2017.json`` (``images`` +
  ``annotations``) or Karpathy's ``dataset_coco.json`` (``images[].sentences``, split
  filter: Karpathy ``train`` only by default, as the official SegCLIP pretraining;
  ``restval`` is an opt-in that warns, its images being COCO val2014 images);
* :class:`ImageTextCSVDataset`: a CSV or TSV file with a header naming the image and
  caption columns (``image,caption`` by default); paths relative to ``data_root``;
* :class:`ImageTextTarDataset`: webdataset-style tar shards (``key.jpg`` + ``key.txt``
  members) read with the standard library by byte offset, map-style so that mmengine's
  samplers and DDP work unchanged (no ``webdataset`` package needed).

Transforms: :class:`LoadImageTextImage` (file or tar member), :class:`ShrinkShortSide`
(the official SegCLIP data preparation: images larger than 224 on both sides shrunk to
short side 224 with PIL's antialiasing Lanczos filter), :class:`FelzenszwalbSuperpixels`
(scikit-image, on the image resized to short side 224, optional ``.npy`` cache keyed by
file, image size and settings), :class:`RandomResizedCropWithSuperpixels` (torchvision's
box rule; the crop resized by PIL's bicubic filter, which antialiases when it shrinks, as
the official ``RandomResizedCrop(interpolation=BICUBIC)`` on PIL images; the superpixels
follow the crop, nearest), :class:`SuperpixelPatchLabels` (majority vote per patch),
:class:`CLIPTokenize` (32 tokens) and :class:`PackImageTextInputs`.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import os.path as osp
import tarfile

import cv2
import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from PIL import Image

from ...registry import DATASETS, TRANSFORMS
from ...utils.errors import ConfigError, DataError


def _check_file(path: str, what: str) -> None:
    if not osp.isfile(path):
        raise DataError(f'{what} {path} does not exist')


@DATASETS.register_module()
class COCOCaptionsDataset(BaseDataset):
    """COCO captions, official JSON or Karpathy split (see module docstring).

    Args:
        ann_file: the JSON file; data_prefix ``dict(img_path=...)``: image folder.
        splits: Karpathy splits kept (``('train',)``, the official SegCLIP pretraining);
            ignored for the official format. ``'restval'`` is an opt-in that warns: its
            images come from COCO val2014, which overlaps the COCO images that
            COCO-Object and COCO-Stuff evaluate on.
    """

    RESTVAL_WARNING = ("COCOCaptionsDataset splits include Karpathy 'restval': its images "
                       'come from COCO val2014, which overlaps the evaluation images of '
                       "COCO-Object / COCO-Stuff (val2017); the official SegCLIP "
                       "pretraining uses 'train' only")

    def __init__(self, *args, splits=('train', ), **kwargs) -> None:
        if isinstance(splits, str):
            splits = (splits, )
        self.splits = tuple(splits)
        known = {'train', 'restval', 'val', 'test'}
        if not self.splits or not set(self.splits) <= known:
            raise DataError(f'COCOCaptionsDataset splits={self.splits}: expected Karpathy '
                            f"splits among {sorted(known)}, e.g. ('train',)")
        if 'restval' in self.splits:
            print_log(self.RESTVAL_WARNING, logger='current', level=logging.WARNING)
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> list[dict]:
        _check_file(self.ann_file, 'COCO captions file')
        with open(self.ann_file) as f:
            data = json.load(f)
        root = self.data_prefix.get('img_path', '')
        out = []
        if 'annotations' in data:                                     # official format
            files = {img['id']: img['file_name'] for img in data['images']}
            for ann in data['annotations']:
                out.append(dict(img_path=osp.join(root, files[ann['image_id']]),
                                caption=ann['caption'].strip()))
        elif 'images' in data and data['images'] and 'sentences' in data['images'][0]:
            for img in data['images']:                                 # Karpathy split
                if img.get('split') not in self.splits:
                    continue
                path = osp.join(root, img.get('filepath', ''), img['filename'])
                out.extend(dict(img_path=path, caption=s['raw'].strip())
                           for s in img['sentences'])
        else:
            raise DataError(f'{self.ann_file}: expected COCO captions (images + annotations) '
                            'or a Karpathy split (images[].sentences)')
        return out


@DATASETS.register_module()
class ImageTextCSVDataset(BaseDataset):
    """Pairs from a CSV/TSV file with a header (``.tsv`` -> tab separated).

    Args:
        image_key, caption_key: the header's column names.
    """

    def __init__(self, *args, image_key: str = 'image', caption_key: str = 'caption',
                 **kwargs) -> None:
        self.image_key, self.caption_key = image_key, caption_key
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> list[dict]:
        _check_file(self.ann_file, 'image-text file')
        delimiter = '\t' if self.ann_file.endswith('.tsv') else ','
        root = self.data_prefix.get('img_path', self.data_root or '')
        with open(self.ann_file, newline='') as f:
            reader = csv.DictReader(f, delimiter=delimiter)
            missing = {self.image_key, self.caption_key} - set(reader.fieldnames or ())
            if missing:
                raise DataError(f'{self.ann_file}: header {reader.fieldnames} lacks the '
                                f'columns {sorted(missing)} (set image_key / caption_key)')
            return [dict(img_path=osp.join(root, row[self.image_key]),
                         caption=row[self.caption_key].strip()) for row in reader]


@DATASETS.register_module()
class ImageTextTarDataset(BaseDataset):
    """Webdataset-style shards: ``ann_file`` is a text file listing shard paths (one per
    line, relative to ``data_root``), or a single ``.tar``. Each key with an image
    (jpg/jpeg/png/webp) and a ``txt`` member is one sample."""

    IMAGE_EXTS = ('jpg', 'jpeg', 'png', 'webp')

    def load_data_list(self) -> list[dict]:
        _check_file(self.ann_file, 'shard list')
        if self.ann_file.endswith('.tar'):
            shards = [self.ann_file]
        else:
            with open(self.ann_file) as f:
                shards = [osp.join(self.data_root or '', line.strip()) for line in f
                          if line.strip()]
        out = []
        for shard in shards:
            _check_file(shard, 'tar shard')
            members: dict[str, dict] = {}
            with tarfile.open(shard) as tar:
                for m in tar:
                    folder, base = osp.split(m.name)
                    if not m.isfile() or '.' not in base:
                        continue
                    stem, ext = base.split('.', 1)        # webdataset: key = up to 1st dot
                    key = osp.join(folder, stem)
                    members.setdefault(key, {})[ext.lower()] = (m.offset_data, m.size)
                    if ext.lower() == 'txt':
                        members[key]['caption'] = tar.extractfile(m).read().decode().strip()
            for key, parts in sorted(members.items()):
                image = next((parts[e] for e in self.IMAGE_EXTS if e in parts), None)
                if image is None or 'caption' not in parts:
                    continue
                out.append(dict(img_path=f'{shard}::{key}', tar_shard=shard,
                                tar_offset=image[0], tar_size=image[1],
                                caption=parts['caption']))
        return out


@TRANSFORMS.register_module()
class LoadImageTextImage(BaseTransform):
    """Read the image (RGB order kept as mmcv's BGR, like ``LoadImageFromFile``) from a
    file or from a tar member; a clear error names a missing or unreadable image."""

    def transform(self, results: dict) -> dict:
        if 'tar_shard' in results:
            with open(results['tar_shard'], 'rb') as f:
                f.seek(results['tar_offset'])
                data = f.read(results['tar_size'])
        else:
            try:
                with open(results['img_path'], 'rb') as f:
                    data = f.read()
            except OSError as exc:
                raise DataError(f'cannot read image {results["img_path"]}: {exc}') from None
        img = mmcv.imfrombytes(data, flag='color')
        if img is None:
            raise DataError(f'{results["img_path"]} is not a readable image')
        results['img'] = img
        results['img_shape'] = results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class ShrinkShortSide(BaseTransform):
    """Shrink an image larger than ``short_side`` on both sides to short side
    ``short_side``, the long side ``int(short_side * aspect)``, with PIL's Lanczos filter
    (``Image.ANTIALIAS``): the official SegCLIP preparation of its training images
    (``preprocess/COCO/write_coco_images.py``), done here on the fly. Smaller images are
    kept as they are. (The official script also re-encodes the JPEG; that is not
    reproduced.)"""

    def __init__(self, short_side: int = 224) -> None:
        if int(short_side) <= 0:
            raise ConfigError(f'ShrinkShortSide short_side={short_side}: expected a '
                              'positive number of pixels')
        self.short_side = int(short_side)

    def target_size(self, h: int, w: int) -> tuple[int, int]:
        """(h, w) after the shrink, as the official script computes them."""
        if w <= self.short_side or h <= self.short_side:
            return h, w
        aspect = w / h
        if aspect >= 1.0:
            return self.short_side, int(self.short_side * aspect)
        return int(self.short_side / aspect), self.short_side

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        th, tw = self.target_size(h, w)
        if (th, tw) != (h, w):
            img = np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize(
                (tw, th), Image.Resampling.LANCZOS))
            results['img'] = img
            results['img_shape'] = img.shape[:2]
        return results


def pil_resize(img: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
    """``img`` (H, W) or (H, W, C) uint8 resized to ``size`` = (w, h) by PIL, channel by
    channel for more than 4 channels (PIL's filters treat channels alike)."""
    img = np.ascontiguousarray(img)
    if img.ndim == 2 or img.shape[2] in (3, 4):
        return np.asarray(Image.fromarray(img).resize(size, resample))
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(img[..., c]))
                              .resize(size, resample)) for c in range(img.shape[2])], -1)


@TRANSFORMS.register_module()
class FelzenszwalbSuperpixels(BaseTransform):
    """Superpixel ids (H, W int32) of the full image: ``felzenszwalb(scale, sigma,
    min_size)`` on the image resized to short side ``short_side`` (224), ids resized back
    (nearest). ``cache_dir``: reuse ``.npy`` files keyed by path and settings."""

    def __init__(self, scale: float = 224, sigma: float = 0.9, min_size: int = 224,
                 short_side: int = 224, cache_dir: str | None = None) -> None:
        self.scale, self.sigma, self.min_size = scale, sigma, min_size
        self.short_side, self.cache_dir = short_side, cache_dir

    def _cache_path(self, results: dict) -> str | None:
        if not self.cache_dir:
            return None
        h, w = results['img'].shape[:2]       # the ids have the size of the image they label
        key = f'{results["img_path"]}|{h}x{w}|{self.scale}|{self.sigma}|{self.min_size}|' \
              f'{self.short_side}'
        return osp.join(self.cache_dir, hashlib.sha1(key.encode()).hexdigest() + '.npy')

    def compute(self, img: np.ndarray) -> np.ndarray:
        from skimage.segmentation import felzenszwalb
        h, w = img.shape[:2]
        factor = self.short_side / min(h, w)
        small = cv2.resize(img, (max(1, round(w * factor)), max(1, round(h * factor))),
                           interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        ids = felzenszwalb(small[..., ::-1], scale=self.scale, sigma=self.sigma,
                           min_size=self.min_size).astype(np.int32)
        return cv2.resize(ids, (w, h), interpolation=cv2.INTER_NEAREST_EXACT)

    def transform(self, results: dict) -> dict:
        path = self._cache_path(results)
        if path and osp.isfile(path):
            ids = np.load(path, allow_pickle=False)
        else:
            ids = self.compute(results['img'])
            if path:
                os.makedirs(self.cache_dir, exist_ok=True)
                tmp = f'{path}.{os.getpid()}.tmp.npy'
                np.save(tmp, ids)
                os.replace(tmp, path)
        results['superpixels'] = ids
        return results


@TRANSFORMS.register_module()
class RandomResizedCropWithSuperpixels(BaseTransform):
    """torchvision's RandomResizedCrop (area ``scale``, aspect ``ratio``, 10 tries, then
    torchvision's central fallback: the whole image, or its central crop clamped to the
    ratio range) to ``size``; the image by PIL's bicubic filter (antialiased when it
    shrinks, as torchvision's resize of a PIL image in the official pipeline),
    ``superpixels`` (if present) nearest with pixel-centre alignment (``INTER_NEAREST_EXACT``: plain ``INTER_NEAREST``
    samples without the half-pixel offset and shifts ids by up to a pixel against the
    image), so that they follow the crop."""

    def __init__(self, size: int = 224, scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3)) -> None:
        self.size, self.scale, self.ratio = int(size), tuple(scale), tuple(ratio)

    def box(self, h: int, w: int, rng=np.random) -> tuple[int, int, int, int]:
        area = h * w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            cw, ch = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return int(rng.randint(0, h - ch + 1)), int(rng.randint(0, w - cw + 1)), ch, cw
        in_ratio = w / h                                   # torchvision's fallback
        if in_ratio < min(self.ratio):
            cw, ch = w, int(round(w / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            ch, cw = h, int(round(h * max(self.ratio)))
        else:
            ch, cw = h, w
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def transform(self, results: dict) -> dict:
        img = results['img']
        y, x, ch, cw = self.box(*img.shape[:2])
        size = (self.size, self.size)
        if img.dtype != np.uint8:
            raise DataError(f'RandomResizedCropWithSuperpixels: image of dtype {img.dtype}: '
                            'expected uint8 (as LoadImageTextImage reads it)')
        results['img'] = pil_resize(img[y:y + ch, x:x + cw], size, Image.Resampling.BICUBIC)
        if 'superpixels' in results:
            results['superpixels'] = cv2.resize(results['superpixels'][y:y + ch, x:x + cw],
                                                size, interpolation=cv2.INTER_NEAREST_EXACT)
        results['img_shape'] = size
        results['crop_box'] = (y, x, ch, cw)
        return results


def patch_majority_labels(ids: np.ndarray, patch_size: int) -> np.ndarray:
    """The most frequent superpixel id inside each ``patch_size`` patch, row-major (N,)
    (ties: the smallest id). The official code uses the floored mean of the ids, which can
    name a superpixel absent from the patch; a majority vote cannot."""
    h, w = ids.shape
    gh, gw = h // patch_size, w // patch_size
    patches = ids[:gh * patch_size, :gw * patch_size].reshape(gh, patch_size, gw, patch_size)
    patches = patches.transpose(0, 2, 1, 3).reshape(gh * gw, -1)
    out = np.empty(gh * gw, np.int64)
    for i, values in enumerate(patches):
        uniq, counts = np.unique(values, return_counts=True)
        out[i] = uniq[counts.argmax()]
    return out


@TRANSFORMS.register_module()
class SuperpixelPatchLabels(BaseTransform):
    """``superpixel_patches`` (N,) by majority vote per patch of ``patch_size``."""

    def __init__(self, patch_size: int = 16) -> None:
        self.patch_size = int(patch_size)

    def transform(self, results: dict) -> dict:
        results['superpixel_patches'] = patch_majority_labels(results['superpixels'],
                                                              self.patch_size)
        return results


@TRANSFORMS.register_module()
class CLIPTokenize(BaseTransform):
    """``text_tokens`` (context_length,): SOT + at most context_length - 2 BPE tokens + EOT."""

    def __init__(self, context_length: int = 32) -> None:
        self.context_length = int(context_length)

    def transform(self, results: dict) -> dict:
        from ...models.clip import tokenize
        results['text_tokens'] = tokenize([results['caption']], self.context_length)[0]
        return results


@TRANSFORMS.register_module()
class PackImageTextInputs(BaseTransform):
    """``inputs`` (3, H, W) uint8 tensor and a ``SegDataSample`` carrying ``text_tokens``,
    ``superpixel_patches`` (when computed) and the caption in its metainfo."""

    def transform(self, results: dict) -> dict:
        from mmseg.structures import SegDataSample
        img = results['img']
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = SegDataSample()
        sample.text_tokens = torch.as_tensor(results['text_tokens'], dtype=torch.long)
        if 'superpixel_patches' in results:
            sample.superpixel_patches = torch.as_tensor(results['superpixel_patches'])
        sample.set_metainfo(dict(img_path=results['img_path'], caption=results['caption'],
                                 img_shape=results['img_shape'],
                                 ori_shape=results['ori_shape']))
        return dict(inputs=inputs, data_samples=sample)


@DATASETS.register_module()
class ToyImageTextDataset(ImageTextCSVDataset):
    """The toy shapes' training images with generated captions ("a red circle above a
    blue square"): generated on first use (``generate``: toy settings), then read as a
    CSV image-text set. SegCLIP's CPU run."""

    def __init__(self, *args, generate: dict | None = None, split: str = 'training',
                 **kwargs) -> None:
        from ...datasets.toy_shapes import generate_toy_image_text, generate_toy_shapes
        root = kwargs.get('data_root')
        generate_toy_shapes(root, **(generate or {}))
        # relative to data_root: mmengine joins data_root and a relative ann_file (a path
        # that already starts with a relative data_root would be joined twice)
        kwargs.setdefault('ann_file', osp.relpath(generate_toy_image_text(root, split), root)
                          if root else generate_toy_image_text(root, split))
        super().__init__(*args, **kwargs)
