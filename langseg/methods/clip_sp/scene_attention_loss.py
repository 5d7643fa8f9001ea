"""CLIP-SP's auxiliary attention loss (Li et al., "CLIP-SP: Vision-language model with
adaptive prompting for scene parsing", Computational Visual Media 2024,
doi:10.1007/s41095-024-0430-4, Sec. 3.4, Eq. 6-8).

The scene refinement's non-local attention (B, HW, k) of every pixel over the k selected
scene labels is supervised with the position, among those labels, of the pixel's ground
truth (:func:`scene_attention_targets`); pixels whose label is not selected are ignored:
``loss_weight * NLL(log attn, target)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS


def scene_attention_targets(gt: torch.Tensor, indices: torch.Tensor,
                            ignore_index: int = 255) -> torch.Tensor:
    """Targets (B, H, W) of the non-local attention map: the position in ``indices``
    (B, k) of each pixel's ground-truth label ``gt`` (B, H, W), or ``ignore_index``."""
    match = gt[:, None] == indices[:, :, None, None]                # B, k, H, W
    found = match.any(dim=1)
    target = match.float().argmax(dim=1)
    return torch.where(found, target, torch.full_like(target, ignore_index))


@MODELS.register_module()
class SceneAttentionLoss(nn.Module):
    """Eq. 6-8: cross-entropy of the scene attention against the selected labels.

    ``forward(attn, gt, indices)``: attention (B, HW, k) on an (h, w) grid, ground truth
    (B, h, w) already at that grid, selected labels (B, k)."""

    def __init__(self, loss_weight: float = 0.4, ignore_index: int = 255) -> None:
        super().__init__()
        self.loss_weight, self.ignore_index = float(loss_weight), int(ignore_index)

    def forward(self, attn: torch.Tensor, gt: torch.Tensor,
                indices: torch.Tensor) -> torch.Tensor:
        b, _, k = attn.shape
        h, w = gt.shape[-2:]
        target = scene_attention_targets(gt, indices, self.ignore_index)
        log_attn = torch.log(attn.clamp(min=1e-8)).transpose(1, 2).reshape(b, k, h, w)
        if not (target != self.ignore_index).any():   # no pixel's label was selected
            return log_attn.sum() * 0
        return self.loss_weight * F.nll_loss(log_attn.contiguous(), target,
                                             ignore_index=self.ignore_index)
