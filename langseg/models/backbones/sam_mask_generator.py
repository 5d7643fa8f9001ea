"""SAM's automatic mask generator as a region-mask generator (Kirillov et al., "Segment
Anything", ICCV 2023, arXiv:2304.02643, Sec. 4 "Segment Anything Data Engine" (fully
automatic stage) and Appendix B "Automatic Mask Generation Details").

A regular grid of single foreground points prompts SAM on one image; every point gives
three masks (the multimask output), which are filtered by the model's own quality estimate,
by their stability, and de-duplicated by box NMS. langseg's version is written from the
paper and the official code (github.com/facebookresearch/segment-anything at dca509f,
``segment_anything/automatic_mask_generator.py`` = ``amg.py:`` below for the generator,
``segment_anything/utils/amg.py`` = ``utils/amg.py:``), and checked against the official
``SamAutomaticMaskGenerator`` on recorded outputs (tests/test_sam_mask_generator.py):

1. *Image embedding* (``SamPredictor.set_image``, ``predictor.py:34-90``): the image
   resized so its long side is the encoder's input size (1024; ResizeLongestSide, rounded
   half up), normalised by SAM's pixel mean / std (ImageNet's, ``build_sam.py:99-100``),
   zero-padded at the bottom / right to a square (``sam.py:164-174``), through SAM's image
   encoder (timm's ``VisionTransformerSAM`` in :class:`~langseg.models.backbones.vfm.TimmVFM`,
   LayerNorm eps 1e-6 as the official encoder, ``build_sam.py:72``).
2. *Point grid* (``utils/amg.py:179-197``): ``points_per_side`` points a side at the cell
   centres, ``linspace(1/(2n), 1 - 1/(2n), n)``, x running fastest, scaled by the image's
   (w, h) (``amg.py:239-240``), then mapped to the encoder's frame (``amg.py:276``).
3. *Batches* of ``points_per_batch`` points (``amg.py:244-246``, ``utils/amg.py:98-104``):
   one foreground point a prompt, ``multimask_output=True`` (``amg.py:279-284``): three
   masks and three IoU predictions per point, as logits at the image's size
   (``return_logits``: SAM's postprocessing, bilinear).
4. *Filters* per batch (``amg.py:294-305``): predicted IoU ``> pred_iou_thresh`` (skipped
   when the threshold is 0); the stability score, the IoU of the masks thresholded at
   ``mask_threshold + offset`` and ``mask_threshold - offset`` (``utils/amg.py:156-176``:
   counts of ``logits > t + o`` over counts of ``logits > t - o``; one mask lies inside
   the other), ``>= stability_score_thresh`` (skipped at 0). The masks are ``logits >
   mask_threshold`` (0.0), their boxes the inclusive pixel extents, (0, 0, 0, 0) for an
   empty mask (``utils/amg.py:303-346``).
5. *Crop boundary* (``amg.py:311-314``, ``utils/amg.py:78-88``): masks whose box lies
   within 20 px of a crop's edge but not of the image's edge are dropped; with one crop (the
   image itself, ``crop_n_layers=0``) every crop edge is an image edge, so nothing is
   dropped (the official code drops nothing either). Other crop layers are refused.
6. *NMS* (``amg.py:251-257``): ``torchvision.ops.batched_nms`` of all the image's masks'
   boxes (float), scored by the predicted IoU, one category, ``box_nms_thresh``; the masks
   come in NMS order (highest score first).
7. *Small regions* (``min_mask_region_area`` > 0; ``amg.py:165-171, 323-372``,
   ``utils/amg.py:267-291``): in each mask, holes (8-connected components of its
   complement) and then islands (of the mask) smaller than the area are removed (a mask
   whose islands are all small keeps its largest); the changed masks score 0, the others
   1, boxes are recomputed and NMS runs again at ``max(box_nms_thresh, crop_nms_thresh)``;
   the changed survivors take their new mask and box. The official code labels components
   with OpenCV, langseg with ``scipy.ndimage.label`` (8-connectivity: the same
   components).

Defaults are the official ``SamAutomaticMaskGenerator.__init__``'s (``amg.py:36-52``):
32 points a side, 64 a batch, IoU 0.88, stability 0.95 (offset 1.0), box NMS 0.7, no crops,
no small-region removal. ``multimask_output=False`` (SAM 2's generator has this switch,
``sam2/automatic_mask_generator.py`` ``multimask_output``; CorrCLIP's official code sets it)
takes SAM's single-mask output token instead (SAM 1's decoder has no stability-based
fallback to the multimask output, unlike SAM 2's).

One departure: the official predictor resizes a uint8 image with PIL (torchvision's
``resize`` of a PIL image, bilinear); langseg resizes the float image with torch's
antialiased bilinear interpolation and rounds it to integers (within one grey level of
PIL's, on a fifth of the pixels). The parity test feeds both sides the same embedding.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ...registry import MODELS
from ...utils.errors import ConfigError
from .mask_generators import MaskGenerator
from .sam_prompt import SamPromptDecoder, resize_longest_side

__all__ = ['SamMaskGenerator', 'SamMasks', 'masks_to_boxes', 'point_grid',
           'remove_small_regions', 'stability_score']


class SamMasks(NamedTuple):
    """What :meth:`SamMaskGenerator.generate` returns, one row a mask, in the official
    order (NMS order: highest predicted IoU first).

    masks: bool (N, H, W) at the image's size; iou_preds: (N,) SAM's predicted IoU;
    stability_scores: (N,); boxes: (N, 4) int64 x0, y0, x1, y1 (inclusive extents);
    points: (N, 2) float64, the (x, y) prompt of each mask in the image's frame."""
    masks: torch.Tensor
    iou_preds: torch.Tensor
    stability_scores: torch.Tensor
    boxes: torch.Tensor
    points: torch.Tensor


# ----------------------------------------------------------------------- helpers
def point_grid(points_per_side: int) -> np.ndarray:
    """(n*n, 2) float64 (x, y) in [0, 1]: cell centres of an n x n grid, x fastest
    (``utils/amg.py:179-186``; numpy's ``linspace``, so the coordinates are the official
    ones to the last bit)."""
    n = int(points_per_side)
    offset = 1 / (2 * n)
    side = np.linspace(offset, 1 - offset, n)
    xs, ys = np.meshgrid(side, side)          # xs varies along a row
    return np.stack([xs.ravel(), ys.ravel()], axis=-1)


def stability_score(logits: torch.Tensor, mask_threshold: float,
                    offset: float) -> torch.Tensor:
    """Mask logits (..., H, W) -> the IoU of ``logits > t + o`` and ``logits > t - o``
    (the first lies inside the second: pixel counts' ratio; ``utils/amg.py:156-176``);
    NaN for a mask empty at the low threshold."""
    high = (logits > (mask_threshold + offset)).flatten(-2).sum(-1, dtype=torch.int32)
    low = (logits > (mask_threshold - offset)).flatten(-2).sum(-1, dtype=torch.int32)
    return high / low


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Boolean masks (..., H, W) -> boxes (..., 4) int64 x0, y0, x1, y1: the first and
    last row / column holding a pixel (inclusive); (0, 0, 0, 0) for an empty mask
    (``utils/amg.py:303-346``)."""
    if masks.numel() == 0:
        return torch.zeros(*masks.shape[:-2], 4, dtype=torch.int64, device=masks.device)
    h, w = masks.shape[-2:]
    rows, cols = masks.any(dim=-1), masks.any(dim=-2)            # (..., H), (..., W)
    ys = torch.arange(h, device=masks.device)
    xs = torch.arange(w, device=masks.device)
    bottom = torch.where(rows, ys, -1).amax(dim=-1)
    top = torch.where(rows, ys, h).amin(dim=-1)
    right = torch.where(cols, xs, -1).amax(dim=-1)
    left = torch.where(cols, xs, w).amin(dim=-1)
    boxes = torch.stack([left, top, right, bottom], dim=-1)
    empty = ~rows.any(dim=-1)
    return torch.where(empty[..., None], torch.zeros_like(boxes), boxes)


def remove_small_regions(mask: np.ndarray, area: float, mode: str
                         ) -> tuple[np.ndarray, bool]:
    """One boolean mask (H, W) -> the mask without its holes (``mode='holes'``) or islands
    (``'islands'``) of fewer than ``area`` pixels, 8-connected, and whether it changed
    (``utils/amg.py:267-291``). With islands, a mask whose islands are all small keeps the
    largest (the first of equal ones)."""
    from scipy import ndimage
    if mode not in ('holes', 'islands'):
        raise ConfigError(f'remove_small_regions mode {mode!r}: expected holes or islands')
    holes = mode == 'holes'
    work = ~mask if holes else mask
    labels, count = ndimage.label(work, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    small = [i + 1 for i, s in enumerate(sizes) if s < area]
    if not small:
        return mask, False
    if holes:        # the mask's own pixels (label 0) and the small holes
        keep = [0] + small
    else:            # the islands that are not small; else the largest
        keep = [i for i in range(1, count + 1) if i not in set(small)] or \
            [int(np.argmax(sizes)) + 1]
    return np.isin(labels, keep), True


# --------------------------------------------------------------------- generator
@MODELS.register_module()
class SamMaskGenerator(MaskGenerator):
    """SAM's automatic masks of the image (see the module docstring).

    Args:
        encoder: SAM's image encoder, a ``TimmVFM`` of kind ``'sam'`` (``name='sam-b'``:
            timm's ``samvit_base_patch16.sa1b``, downloaded by its tag with
            ``pretrained=True``, or a local weights file as ``pretrained``).
        decoder: SAM's prompt encoder and mask decoder (``SamPromptDecoder``;
            ``pretrained``: a local official checkpoint, ``sam_vit_b_01ec64.pth``); its
            ``image_size`` defaults to the encoder's input size, its ``embed_dim`` must be
            the encoder's output width.
        points_per_side: the point grid's side (32).
        points_per_batch: points a decoder call (64): memory only, the result is the same.
        pred_iou_thresh: keep masks whose predicted IoU is above it (0.88; 0: no filter).
        stability_score_thresh: keep masks whose stability score reaches it (0.95; 0: no
            filter).
        stability_score_offset: the logit offset of the stability score (1.0).
        mask_threshold: the logit a mask pixel exceeds (0.0, SAM's ``mask_threshold``).
        box_nms_thresh: the box IoU of the NMS (0.7).
        crop_n_layers: only 0 (the whole image, no crops).
        crop_nms_thresh: the NMS threshold after small-region removal is
            ``max(box_nms_thresh, crop_nms_thresh)`` (0.7).
        min_mask_region_area: remove holes and islands smaller than this (0: off).
        multimask_output: three masks a point (True, SAM's generator), or the single-mask
            output (SAM 2's generator's switch).
    """

    def __init__(self, encoder: dict | None = None, decoder: dict | None = None,
                 points_per_side: int = 32, points_per_batch: int = 64,
                 pred_iou_thresh: float = 0.88, stability_score_thresh: float = 0.95,
                 stability_score_offset: float = 1.0, mask_threshold: float = 0.0,
                 box_nms_thresh: float = 0.7, crop_n_layers: int = 0,
                 crop_nms_thresh: float = 0.7, min_mask_region_area: int = 0,
                 multimask_output: bool = True, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if int(crop_n_layers) != 0:
            raise ConfigError(f'SamMaskGenerator: crop_n_layers={crop_n_layers} is not '
                              'supported: expected 0 (SAM on the whole image, no crops)')
        if int(points_per_side) < 1 or int(points_per_batch) < 1:
            raise ConfigError(f'SamMaskGenerator: points_per_side {points_per_side} and '
                              f'points_per_batch {points_per_batch}: expected >= 1')
        if int(min_mask_region_area) < 0:
            raise ConfigError(f'SamMaskGenerator: min_mask_region_area '
                              f'{min_mask_region_area}: expected >= 0 (0: off)')
        self.encoder = MODELS.build(encoder or dict(type='TimmVFM', name='sam-b'))
        if getattr(self.encoder, 'kind', None) != 'sam':
            raise ConfigError(f'SamMaskGenerator: encoder must be a SAM image encoder '
                              f"(TimmVFM kind 'sam', e.g. name='sam-b'), got "
                              f"{type(self.encoder).__name__} "
                              f"{getattr(self.encoder, 'kind', '')!r}")
        # segment-anything's encoder normalises with eps 1e-6 (build_sam.py:72); timm's
        # VisionTransformerSAM uses nn.LayerNorm's 1e-5
        for module in self.encoder.model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.eps = 1e-6
        self.image_size = int(self.encoder.input_size)
        cfg = dict(decoder or dict(type='SamPromptDecoder'))
        cfg.setdefault('type', 'SamPromptDecoder')
        if cfg.setdefault('image_size', self.image_size) != self.image_size:
            raise ConfigError(f"SamMaskGenerator: decoder image_size {cfg['image_size']} "
                              f"differs from the encoder's input size {self.image_size}: "
                              'expected the same (or none)')
        self.decoder = MODELS.build(cfg)
        if not isinstance(self.decoder, SamPromptDecoder):
            raise ConfigError(f'SamMaskGenerator: decoder must be a SamPromptDecoder, got '
                              f'{type(self.decoder).__name__}')
        width = getattr(self.encoder.model, 'num_features', None)
        if width is not None and self.decoder.embed_dim != width:
            raise ConfigError(f'SamMaskGenerator: decoder embed_dim {self.decoder.embed_dim}'
                              f" differs from the encoder's output width {width}: expected "
                              'the same (SAM ViT-B/L/H: 256)')
        self.points_per_side, self.points_per_batch = int(points_per_side), \
            int(points_per_batch)
        self.pred_iou_thresh = float(pred_iou_thresh)
        self.stability_score_thresh = float(stability_score_thresh)
        self.stability_score_offset = float(stability_score_offset)
        self.mask_threshold = float(mask_threshold)
        self.box_nms_thresh, self.crop_nms_thresh = float(box_nms_thresh), \
            float(crop_nms_thresh)
        self.min_mask_region_area = int(min_mask_region_area)
        self.multimask_output = bool(multimask_output)
        self.requires_grad_(False)

    @property
    def pretrained(self) -> bool:
        """Whether a weight source is named (the encoder's tag / file or the decoder's)."""
        return bool(self.encoder.pretrained or self.decoder.pretrained)

    # ------------------------------------------------------------------ embedding
    @torch.no_grad()
    def embed(self, image: torch.Tensor) -> torch.Tensor:
        """``image`` (3, H, W) RGB in [0, 255] -> SAM's image embedding (1, C, g, g)
        (step 1 of the module docstring)."""
        size = resize_longest_side(image.shape[-2:], self.image_size)
        enc = self.encoder
        x = image[None].to(enc.mean)
        if tuple(size) != tuple(x.shape[-2:]):
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=False,
                              antialias=True)
        x = (x.round().clamp(0, 255) - enc.mean) / enc.std     # a uint8 image, normalised
        x = F.pad(x, (0, self.image_size - size[1], 0, self.image_size - size[0]))
        return enc.model.forward_features(x)

    # ------------------------------------------------------------------ the masks
    def _batch(self, embedding: torch.Tensor, points: np.ndarray,
               image_hw: tuple[int, int]) -> dict[str, torch.Tensor]:
        """One batch of points (B, 2) in the image's frame -> its kept masks (steps 3-4)."""
        dec = self.decoder
        device = dec.mask_decoder.iou_token.weight.device
        h, w = image_hw
        input_size = resize_longest_side(image_hw, self.image_size)
        # ResizeLongestSide.apply_coords in float64 (transforms.py:33-45); the prompt
        # encoder adds 0.5 and divides by the input size before casting to fp32
        coords = points.astype(np.float64).copy()
        coords[:, 0] *= input_size[1] / w
        coords[:, 1] *= input_size[0] / h
        coords_t = torch.from_numpy(coords).to(device)[:, None]
        labels = torch.ones(coords_t.shape[0], 1, device=device)
        sparse, dense = dec.prompt_encoder((coords_t, labels), None, None)
        low, iou = dec.mask_decoder(embedding.to(device, dec.mask_decoder.iou_token.weight
                                                 .dtype), dec.prompt_encoder.dense_pe(),
                                    sparse, dense, self.multimask_output)
        logits = dec.postprocess_masks(low, input_size, image_hw)      # (B, M, H, W)
        per = logits.shape[1]
        logits, iou = logits.flatten(0, 1), iou.flatten(0, 1)
        pts = torch.from_numpy(np.repeat(points.astype(np.float64), per, axis=0))
        if self.pred_iou_thresh > 0.0:
            keep = iou > self.pred_iou_thresh
            logits, iou, pts = logits[keep], iou[keep], pts[keep.cpu()]
        stability = stability_score(logits, self.mask_threshold, self.stability_score_offset)
        if self.stability_score_thresh > 0.0:
            keep = stability >= self.stability_score_thresh
            logits, iou, pts, stability = logits[keep], iou[keep], pts[keep.cpu()], \
                stability[keep]
        masks = logits > self.mask_threshold
        # step 5: one crop (the image): no box is near a crop edge that is not an image edge
        return dict(masks=masks, iou_preds=iou, stability_scores=stability,
                    boxes=masks_to_boxes(masks), points=pts)

    @torch.no_grad()
    def generate_from_embedding(self, embedding: torch.Tensor,
                                image_hw: Sequence[int]) -> SamMasks:
        """SAM's image embedding (1, C, g, g) of an image of size ``image_hw`` (H, W) ->
        its automatic masks (steps 2-7 of the module docstring)."""
        from torchvision.ops import batched_nms
        h, w = int(image_hw[0]), int(image_hw[1])
        points = point_grid(self.points_per_side) * np.array([[w, h]], dtype=np.float64)
        parts = [self._batch(embedding, points[i:i + self.points_per_batch], (h, w))
                 for i in range(0, len(points), self.points_per_batch)]
        data = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        keep = batched_nms(data['boxes'].float(), data['iou_preds'],
                           torch.zeros_like(data['boxes'][:, 0]), self.box_nms_thresh)
        data = {k: v[keep.to(v.device)] for k, v in data.items()}
        if self.min_mask_region_area > 0 and data['masks'].shape[0]:
            data = self._remove_small_regions(data)
        return SamMasks(**data)

    def _remove_small_regions(self, data: dict[str, torch.Tensor]
                              ) -> dict[str, torch.Tensor]:
        """Step 7 (``amg.py:323-372``)."""
        from torchvision.ops import batched_nms
        area = self.min_mask_region_area
        new, scores = [], []
        for mask in data['masks'].cpu().numpy():
            mask, changed_holes = remove_small_regions(mask, area, 'holes')
            mask, changed_islands = remove_small_regions(mask, area, 'islands')
            new.append(torch.from_numpy(np.ascontiguousarray(mask)))
            scores.append(float(not (changed_holes or changed_islands)))
        masks = torch.stack(new).to(data['masks'].device)
        boxes = masks_to_boxes(masks)
        scores_t = torch.tensor(scores, dtype=torch.float32)
        keep = batched_nms(boxes.float().cpu(), scores_t, torch.zeros(len(scores)),
                           max(self.box_nms_thresh, self.crop_nms_thresh))
        changed = scores_t[keep] == 0.0
        out = {k: v[keep.to(v.device)] for k, v in data.items()}
        dev = changed.to(out['masks'].device)
        out['masks'] = torch.where(dev[:, None, None], masks[keep.to(masks.device)],
                                   out['masks'])
        out['boxes'] = torch.where(dev[:, None], boxes[keep.to(boxes.device)], out['boxes'])
        return out

    @torch.no_grad()
    def generate(self, image: torch.Tensor) -> SamMasks:
        """``image`` (3, H, W) RGB in [0, 255] -> its automatic masks at (H, W)."""
        return self.generate_from_embedding(self.embed(image), image.shape[-2:])

    def forward(self, image: torch.Tensor, meta: dict | None = None) -> torch.Tensor:
        """``image`` (3, H, W) RGB in [0, 255] -> boolean masks (N, H, W), NMS order."""
        return self.generate(image).masks
