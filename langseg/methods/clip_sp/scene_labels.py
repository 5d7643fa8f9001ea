"""CLIP-SP's adaptive prompting (Li et al., CVM 2024, doi:10.1007/s41095-024-0430-4, Sec. 3.2
and 3.5): scene-label selection with batch drop.

:func:`select_scene_labels`: the top-k labels of the multi-label probabilities S_l; with
batch drop, a ratio r of the images (``round(r * B)``, chosen at random) gets labels sampled
from its ground truth instead: all the classes present when there are at most k, k of them
at random otherwise, the remaining slots filled with the image's best-scoring other labels.
A ground-truth label's value is 1 (it is known to be present); a predicted one keeps its
probability. Training only. The scene refinement (``fusion.py``) turns the selected labels
into scene tokens; the auxiliary attention loss on them (Eq. 6-8) is
:class:`~langseg.methods.clip_sp.losses.SceneAttentionLoss`.
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
    if not drop_ratio:
        return indices, values, dropped
    n_drop = int(round(drop_ratio * int(b)))
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
