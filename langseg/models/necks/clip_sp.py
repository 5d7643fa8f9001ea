"""CLIP-SP's adaptive prompting (paper 003, Sec. 3.2 and 3.5): scene-label selection with
batch drop, and the targets of the auxiliary attention loss (Sec. 3.4, Eq. 6-8).

* :func:`select_scene_labels`: the top-k labels of the multi-label probabilities S_l; with
  batch drop, a ratio r of the images (``round(r * B)``, chosen at random) gets labels
  sampled from its ground truth instead: all the classes present when there are at most k,
  k of them at random otherwise, the remaining slots filled with the image's best-scoring
  other labels. A ground-truth label's value is 1 (it is known to be present); a predicted
  one keeps its probability. Training only.
* :func:`scene_attention_targets`: for each pixel, the position i in the selected labels
  whose label equals the pixel's ground truth (Eq. 8), or the ignore index when the
  pixel's label is not among them.

The Dual GraphFormer decoder and the scene refinement neck that use these come with the
CLIP-SP segmentor.
"""
from __future__ import annotations

import torch


def select_scene_labels(probs: torch.Tensor, k: int, present: torch.Tensor | None = None,
                        drop_ratio: float = 0.0, generator: torch.Generator | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-k scene labels with batch drop.

    Args:
        probs: multi-label probabilities (B, K).
        k: labels kept per image.
        present: ground-truth classes per image (B, K) bool; needed when drop_ratio > 0.
        drop_ratio: fraction of the batch whose labels come from the ground truth.

    Returns:
        indices (B, k) long, values (B, k), dropped (B,) bool (images that used the GT).
    """
    b, num_classes = probs.shape
    if not 0 < k <= num_classes:
        raise ValueError(f'k={k} must be in 1..{num_classes}')
    values, indices = probs.topk(k, dim=1)
    dropped = torch.zeros(b, dtype=torch.bool, device=probs.device)
    n_drop = int(round(drop_ratio * b))
    if n_drop == 0:
        return indices, values, dropped
    if present is None:
        raise ValueError('batch drop needs the ground-truth classes (present)')
    chosen = torch.randperm(b, generator=generator)[:n_drop].to(probs.device)
    indices, values = indices.clone(), values.clone()
    for i in chosen.tolist():
        gt = torch.nonzero(present[i]).flatten()
        if gt.numel() > k:
            gt = gt[torch.randperm(gt.numel(), generator=generator)[:k].to(gt.device)]
        others = probs[i].clone()
        others[gt] = -float('inf')
        fill = others.topk(k - gt.numel()).indices if gt.numel() < k else gt[:0]
        indices[i] = torch.cat([gt, fill])
        values[i] = torch.cat([torch.ones(gt.numel(), dtype=probs.dtype, device=probs.device),
                               probs[i, fill]])
        dropped[i] = True
    return indices, values, dropped


def scene_attention_targets(gt: torch.Tensor, indices: torch.Tensor,
                            ignore_index: int = 255) -> torch.Tensor:
    """Targets (B, H, W) of the non-local attention map: the position in ``indices``
    (B, k) of each pixel's ground-truth label ``gt`` (B, H, W), or ``ignore_index``."""
    match = gt[:, None] == indices[:, :, None, None]                # B, k, H, W
    found = match.any(dim=1)
    target = match.float().argmax(dim=1)
    return torch.where(found, target, torch.full_like(target, ignore_index))
