"""Trident's prompt-based SAM refinement of the label map (Shi, Dong and Xu, "Harnessing
Vision Foundation Models for High-Performance, Training-Free Open Vocabulary Segmentation",
ICCV 2025, arXiv:2411.09219), as the official code computes it: github.com/YuHengsss/Trident
at a93b346, ``seg_utils/utils.py:27-197`` (``split_connected_regions``,
``map_refinement_coarse``, ``map_failed_regions``, ``sam_refinement``), called by
``trident.py:277-283`` on the post-processed labels and class probabilities when ``eval.py``
runs with ``--sam_refine`` (``dist_test.sh:3``, the published numbers). SAM's prompt encoder
and mask decoder are ``langseg.models.backbones.sam_prompt``.

With labels L (H, W) (after ``prob_thd``) and class probabilities P (K, H, W):

1. Both at half size (h, w) = (H // 2, W // 2): L nearest, P bilinear (``:106-114``). With
   ``coarse_thresh`` > 0, half-size pixels whose best probability is below it belong to no
   class (``:120-126``).
2. Regions (``split_connected_regions``, ``:27-69``): for each class k whose half-size
   probability reaches ``coarse_thresh`` somewhere, the 8-connected components of
   {L = k} (``skimage.measure.label``, connectivity 2); a component of fewer than
   ``minimal_area`` half-size pixels is dropped. Each kept region gives a box (its extent,
   inclusive corners, ``masks_to_boxes``) and a point: the first (row-major) maximum of
   P_k inside it.
3. SAM per class (``:134-174``): all of the class's regions in one batch, each prompted by
   its foreground point, its box (both in the half-size frame, mapped to SAM's input by
   ResizeLongestSide of (h, w)) and one shared mask prompt: P_k at half size resized
   (bilinear) to the original image resized to SAM's mask size (long side 256), zero-padded
   to 256 x 256, ``mask_coff * P_k`` where P_k > ``coarse_thresh``, else 0;
   ``multimask_output=False`` (the single-mask token). The official call passes this mask
   unbatched, (1, 256, 256), and SAM's LayerNorm2d, which normalises over dim 1,
   then normalises the downscaled mask over its rows instead of its channels: kept, it is
   what the published numbers ran. A region whose predicted IoU is not above
   ``iou_thresh`` fails; a class with no passing region is dropped from step 4.
4. Write-back (``map_refinement_coarse``, ``:71-83``; ``:179-190``): the passing masks'
   logits upscaled to SAM's original size, then (if it differs) bilinear to (H, W); per class
   R_k = [any of its masks > 0] * max over its masks of sigmoid(logit) * P_k; labels =
   argmax_k R_k (first maximum), kept as L where every R_k is 0.
5. Failed regions (``map_failed_regions``, ``:85-90``; ``:191-195``): their union upscaled
   (nearest) to (H, W); there R_k <- max(R_k, P_k); the official test that would put L back
   (max_k P_k > max_k R_k after that update) can never hold, so the labels stay those of
   step 4 (implemented as written). The returned probabilities are R.

If no region passes, L and P are returned unchanged (``:176-177``).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ...models.backbones.sam_prompt import SamPromptDecoder, resize_longest_side


class Regions(NamedTuple):
    """The kept regions of one class on the half-size grid: masks (n, h, w) bool, boxes
    (n, 4) x1, y1, x2, y2 (inclusive pixel extents), points (n, 2) x, y."""
    masks: torch.Tensor
    boxes: torch.Tensor
    points: torch.Tensor


def class_regions(labels: torch.Tensor, probs: torch.Tensor, coarse_thresh: float,
                  minimal_area: int) -> dict[int, Regions]:
    """Step 2 (``split_connected_regions``): half-size labels (h, w) (a label outside
    0..K-1: no class) and probabilities (K, h, w) -> the regions of each class that has
    any (classes in increasing order)."""
    from skimage import measure
    out: dict[int, Regions] = {}
    labels_np = labels.cpu().numpy()
    for k in range(probs.shape[0]):
        if probs[k].max() < coarse_thresh:
            continue
        components = measure.label((labels_np == k).astype(np.uint8), connectivity=2)
        areas = np.bincount(components.ravel())
        masks, boxes, points = [], [], []
        for index in range(1, len(areas)):     # skimage numbers them in raster order
            if areas[index] < minimal_area:
                continue
            region = torch.from_numpy(components == index).to(probs.device)
            masked = probs[k] * region
            pos = int(torch.argmax(masked))
            ys, xs = torch.nonzero(region, as_tuple=True)
            masks.append(region)
            boxes.append(torch.stack([xs.min(), ys.min(), xs.max(), ys.max()]))
            points.append(torch.tensor([pos % probs.shape[-1], pos // probs.shape[-1]]))
        if masks:
            out[k] = Regions(torch.stack(masks), torch.stack(boxes).float(),
                             torch.stack(points).to(probs.device).float())
    return out


class RefinementInfo(NamedTuple):
    """What the refinement did: prompts per class, the passing ones, and the passing
    prompts' boxes at full size (the official ``combined_boxes``)."""
    prompts: int
    passed: int
    boxes: torch.Tensor | None


@torch.no_grad()
def sam_refinement(labels: torch.Tensor, probs: torch.Tensor, embedding: torch.Tensor,
                   decoder: SamPromptDecoder, sam_size: Sequence[int],
                   coarse_thresh: float = 0.1, minimal_area: int = 225,
                   mask_coff: float = 0.005, iou_thresh: float = 0.9
                   ) -> tuple[torch.Tensor, torch.Tensor, RefinementInfo]:
    """Refine a label map with SAM (see the module docstring; the official defaults of
    ``Trident.__init__``, ``trident.py:33``, ``:93``; the configs set theirs).

    Args:
        labels: (H, W) class indices (after ``prob_thd``).
        probs: (K, H, W) class probabilities at the same size.
        embedding: SAM's image embedding (1, C, g, g) of the image resized to
            ``decoder.image_size`` on its long side and zero-padded.
        decoder: SAM's prompt encoder and mask decoder.
        sam_size: (h, w) of the image SAM's input was resized from (the official
            predictor's ``original_size``: the image with sides rounded up to multiples of
            16).
        coarse_thresh, minimal_area, mask_coff, iou_thresh: the official
            ``coarse_thresh``, ``minimal_area``, ``sam_mask_coff``, ``sam_iou_thresh``.
    Returns:
        labels (H, W), probabilities (K, H, W), and a :class:`RefinementInfo`.
    """
    num_classes, (height, width) = probs.shape[0], probs.shape[-2:]
    dh, dw = height // 2, width // 2
    small = F.interpolate(labels[None, None].float(), [dh, dw], mode='nearest')[0, 0].long()
    probs_small = F.interpolate(probs[None].float(), [dh, dw], mode='bilinear',
                                align_corners=False)[0]
    if coarse_thresh > 0:
        small[probs_small.max(0)[0] < coarse_thresh] = num_classes
    regions = class_regions(small, probs_small, coarse_thresh, minimal_area)

    mask_size = decoder.mask_input_size
    mask_h, mask_w = resize_longest_side((height, width), mask_size[0])
    kept, failed, prompts, passed, boxes = {}, [], 0, 0, []
    for k, region in regions.items():
        prompt = F.interpolate(probs_small[k][None, None], [mask_h, mask_w], mode='bilinear',
                               align_corners=False)[0]
        prompt = F.pad(prompt, (0, mask_size[1] - mask_w, 0, mask_size[0] - mask_h))
        prompt = torch.where(prompt > coarse_thresh, mask_coff * prompt,
                             torch.zeros_like(prompt))                      # 1, 256, 256
        n = region.masks.shape[0]
        pred = decoder.predict(
            embedding, sam_size, point_coords=region.points[:, None],
            point_labels=torch.ones(n, 1, device=probs.device), boxes=region.boxes,
            mask_input=prompt, multimask_output=False, prompt_size=(dh, dw))
        valid = pred.iou_predictions[:, 0] > iou_thresh
        prompts, passed = prompts + n, passed + int(valid.sum())
        if not valid.all():
            failed.append(region.masks[~valid])
        if valid.any():
            kept[k] = pred.low_res_logits[valid]
            boxes.append(region.boxes[valid] * 2)
    if not kept:
        return labels, probs, RefinementInfo(prompts, 0, None)

    low = torch.cat(list(kept.values()))
    logits = decoder.postprocess_masks(
        low, resize_longest_side(sam_size, decoder.image_size), sam_size)
    if tuple(logits.shape[-2:]) != (height, width):
        logits = F.interpolate(logits, (height, width), mode='bilinear', align_corners=False)
    masks, scores = logits[:, 0] > decoder.mask_threshold, logits[:, 0].sigmoid()
    refined = probs.new_zeros(num_classes, height, width).float()
    start = 0
    for k, low_k in kept.items():
        stop = start + low_k.shape[0]
        covered = masks[start:stop].any(dim=0)
        refined[k] = (scores[start:stop] * probs[k]).max(dim=0)[0] * covered
        start = stop
    out = torch.where(refined.sum(dim=0) == 0, labels, refined.argmax(dim=0))
    if failed:
        union = F.interpolate(torch.cat(failed)[None].float(), (height, width),
                              mode='nearest')[0].sum(dim=0) != 0
        fallback = union * probs
        refined = torch.where(fallback > refined, fallback, refined)
        out = torch.where(fallback.max(dim=0)[0] > refined.max(dim=0)[0], labels, out)
    return out, refined, RefinementInfo(prompts, passed, torch.cat(boxes))
