"""Region-mask generators: an RGB image -> class-agnostic boolean region masks.

Methods that constrain CLIP with image regions (CorrCLIP, Zhang et al., "CorrCLIP:
Reconstructing Patch Correlations in CLIP for Open-Vocabulary Semantic Segmentation",
ICCV 2025, arXiv:2411.10086, Sec. 3; its official code takes SAM2 / EntitySeg / EoMT /
Mask2Former masks) take their masks through this one interface, so the generator is a
config entry (``mask_generator=dict(type=...)``, langseg's ``MODELS`` registry) and can
be swapped without touching the method:

* ``generator(image, meta)``: ``image`` (3, H, W) RGB pixels in [0, 255] (the model's
  input, after the data pipeline's resize), ``meta`` the sample's metainfo
  (``img_path``, ``ori_shape``, ...) -> boolean masks (N, H', W') (N may be 0; the masks
  may overlap and need not cover the image; (H', W') is the generator's own resolution);
* :meth:`MaskGenerator.instance_map`: the masks painted into one integer map (H', W')
  the way CorrCLIP's official code paints SAM2's (``corrclip_segmentor.py``,
  ``generate_mask``): masks sorted by area, smallest first (a stable sort), painted
  with ids 1..N in that order, so a larger mask overwrites a smaller one where they
  overlap; 0 marks the pixels no mask covers.

The generators (each registered by its type name):

* :class:`PrecomputedMaskGenerator`: the official CorrCLIP route to its published numbers
  (the authors' SAM2 masks, pre-generated and shipped as ``region_masks.zip``: one
  ``<image stem>.npz`` a dataset with the integer map under ``instance_mask``), read from a
  local folder;
* ``SamMaskGenerator`` (``langseg.models.backbones.sam_mask_generator``): SAM's automatic
  mask generator (Kirillov et al., "Segment Anything", ICCV 2023, arXiv:2304.02643) run on
  the image itself: a point grid through SAM's image encoder (timm's, ``TimmVFM``) and its
  prompt encoder / mask decoder (``sam_prompt.SamPromptDecoder``), filtered by predicted IoU
  and stability, box NMS; equal to the official ``SamAutomaticMaskGenerator`` on recorded
  outputs. Its cost is SAM's, per image (docs/methods/corrclip.md);
* :class:`SuperpixelMaskGenerator`: SLIC superpixels (Achanta et al., "SLIC Superpixels
  Compared to State-of-the-Art Superpixel Methods", TPAMI 2012) through scikit-image: no
  weights, a cheap stand-in that is *not* what the published numbers used;
* :class:`NoMaskGenerator`: no masks (every pixel unsegmented), the mechanism without
  regions.

SAM2 (Hiera), EntitySeg, EoMT and Mask2Former generators are not here: their model code is
not part of langseg's dependencies (no ``sam2``, ``detectron2`` or ``transformers``
package) and langseg does not copy it; their masks enter through
:class:`PrecomputedMaskGenerator` (docs/methods/corrclip.md says how to make them).
"""
from __future__ import annotations

import os.path as osp

import numpy as np
import torch
from mmengine.model import BaseModule

from ...registry import MODELS
from ...utils.errors import ConfigError, DataError

__all__ = ['MaskGenerator', 'NoMaskGenerator', 'PrecomputedMaskGenerator',
           'SuperpixelMaskGenerator', 'paint_instance_map']


def paint_instance_map(masks: torch.Tensor) -> torch.Tensor:
    """Boolean masks (N, H, W) -> an integer map (H, W): sorted by area, smallest first
    (stable), painted with ids 1..N in that order (larger masks overwrite smaller ones);
    0 where no mask is (CorrCLIP's official SAM2 branch of ``generate_mask``)."""
    if masks.dim() != 3:
        raise ConfigError(f'masks of shape {tuple(masks.shape)}: expected (N, H, W)')
    masks = masks.bool()
    out = torch.zeros(masks.shape[-2:], dtype=torch.int32, device=masks.device)
    if masks.shape[0] == 0:
        return out
    areas = masks.flatten(1).sum(dim=1)
    order = torch.sort(areas, stable=True).indices
    for instance_id, index in enumerate(order.tolist(), start=1):
        out[masks[index]] = instance_id
    return out


class MaskGenerator(BaseModule):
    """Base of the region-mask generators (see the module docstring).

    Subclasses implement :meth:`forward`; one that reads its masks from a file of the
    image (not from the pixels) sets ``reads_file = True``, so that a flipped input
    (test-time augmentation) flips its map.
    """

    #: whether the masks come from the image's file (``meta['img_path']``), not its pixels
    reads_file = False

    def forward(self, image: torch.Tensor, meta: dict | None = None) -> torch.Tensor:
        """``image`` (3, H, W) RGB in [0, 255] -> boolean masks (N, H', W')."""
        raise NotImplementedError

    def instance_map(self, image: torch.Tensor, meta: dict | None = None) -> torch.Tensor:
        """The masks as one integer map (H', W') (:func:`paint_instance_map`)."""
        return paint_instance_map(self(image, meta))


@MODELS.register_module()
class NoMaskGenerator(MaskGenerator):
    """No region masks: every pixel is unsegmented (N = 0)."""

    def forward(self, image: torch.Tensor, meta: dict | None = None) -> torch.Tensor:
        return torch.zeros(0, *image.shape[-2:], dtype=torch.bool, device=image.device)


@MODELS.register_module()
class PrecomputedMaskGenerator(MaskGenerator):
    """Masks made beforehand, one file an image: ``<folder>/<image stem>.npz`` holding an
    integer map (H, W) under ``key`` (the format of CorrCLIP's pre-generated SAM2 masks,
    ``instance_mask``; 0 or the smallest value marks the unsegmented pixels), or
    ``<stem>.npy``. The map is used as stored (:meth:`instance_map`); :meth:`forward`
    gives one boolean mask per value but the smallest.

    Args:
        folder: the folder of the files (e.g. ``data/region_masks/voc``).
        key: the array's name in an ``.npz`` file.
    """

    reads_file = True

    def __init__(self, folder: str, key: str = 'instance_mask',
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.folder, self.key = str(folder), str(key)

    def _path(self, meta: dict | None) -> str:
        img_path = (meta or {}).get('img_path')
        if not img_path:
            raise ConfigError('PrecomputedMaskGenerator needs the image path '
                              "(meta['img_path'], set by the dataset's LoadImageFromFile)")
        stem = osp.splitext(osp.basename(str(img_path)))[0]
        for ext in ('.npz', '.npy'):
            path = osp.join(self.folder, stem + ext)
            if osp.isfile(path):
                return path
        raise DataError(f'no region masks for {img_path}: expected {stem}.npz (key '
                        f'{self.key!r}) or {stem}.npy in {self.folder}')

    def instance_map(self, image: torch.Tensor, meta: dict | None = None) -> torch.Tensor:
        path = self._path(meta)
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):   # .npy
            array = data
        else:                              # .npz
            with data:
                if self.key not in data.files:
                    raise DataError(f'{path} has no array {self.key!r}: it holds '
                                    f'{", ".join(data.files)}')
                array = data[self.key]
        if array.ndim != 2:
            raise DataError(f'{path}: the region map has shape {array.shape}, expected '
                            '(H, W)')
        return torch.from_numpy(array.astype(np.int64)).to(torch.int32).to(image.device)

    def forward(self, image: torch.Tensor, meta: dict | None = None) -> torch.Tensor:
        instance = self.instance_map(image, meta)
        values = torch.unique(instance)[1:]
        return values[:, None, None] == instance[None]


@MODELS.register_module()
class SuperpixelMaskGenerator(MaskGenerator):
    """SLIC superpixels (scikit-image's ``slic``) as region masks: no weights, a cheap
    generator whose regions follow colour edges but not objects.

    Args:
        n_segments: about how many superpixels an image gets.
        compactness: colour vs. space trade-off of SLIC (larger: squarer regions).
        sigma: Gaussian smoothing of the image before SLIC.
    """

    def __init__(self, n_segments: int = 64, compactness: float = 10.0, sigma: float = 1.0,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if int(n_segments) < 1:
            raise ConfigError(f'n_segments must be >= 1, got {n_segments}')
        self.n_segments, self.compactness, self.sigma = int(n_segments), float(compactness), \
            float(sigma)

    def forward(self, image: torch.Tensor, meta: dict | None = None) -> torch.Tensor:
        from skimage.segmentation import slic
        rgb = image.detach().float().clamp(0, 255).permute(1, 2, 0).cpu().numpy() / 255.0
        labels = slic(rgb, n_segments=self.n_segments, compactness=self.compactness,
                      sigma=self.sigma, start_label=1, channel_axis=-1)
        labels = torch.from_numpy(labels.astype(np.int64)).to(image.device)
        values = torch.unique(labels)
        return values[:, None, None] == labels[None]
