"""CLIP-SP's losses (Sec. 3.4).

**ASL.** Asymmetric loss (ASL) for multi-label classification (Ridnik et al., ICCV 2021, Eq. 3-7).

With sigmoid probabilities p and binary targets y:

    p_m = max(p - m, 0)                      (probability shifting by the margin ``clip``)
    L+  = (1 - p)^gamma_pos * log(p)
    L-  = p_m^gamma_neg * log(1 - p_m)
    ASL = -(y L+ + (1 - y) L-)

CLIP-SP (Li et al., CVM 2024, doi:10.1007/s41095-024-0430-4, Sec. 3.4) trains its multi-label decoder with ASL, weight 10.
Defaults gamma_neg 4, gamma_pos 0, clip 0.05 (the settings of ADDS / ML-Decoder, which
CLIP-SP's decoder follows). Reduction: the mean over images and classes (``'mean'``), so
that the weight 10 of the paper balances it against the per-pixel cross-entropy; ``'sum'``
is the official ASL code's reduction.

**Auxiliary attention loss.** CLIP-SP's auxiliary attention loss (Li et al., "CLIP-SP: Vision-language model with
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
from ...utils.errors import ConfigError


def asymmetric_loss(logits: torch.Tensor, targets: torch.Tensor, gamma_neg: float = 4.0,
                    gamma_pos: float = 0.0, clip: float = 0.05, eps: float = 1e-8,
                    reduction: str = 'mean') -> torch.Tensor:
    """ASL of ``logits`` (B, K) against binary ``targets`` (B, K)."""
    p = torch.sigmoid(logits.float())
    y = targets.float()
    p_neg = (p - clip).clamp(min=0) if clip and clip > 0 else p
    loss_pos = y * (1 - p).pow(gamma_pos) * torch.log(p.clamp(min=eps))
    loss_neg = (1 - y) * p_neg.pow(gamma_neg) * torch.log((1 - p_neg).clamp(min=eps))
    loss = -(loss_pos + loss_neg)
    if reduction == 'sum':
        return loss.sum()
    if reduction == 'none':
        return loss
    return loss.mean()


@MODELS.register_module()
class AsymmetricLoss(nn.Module):
    """ASL as a registered loss (see module docstring)."""

    def __init__(self, gamma_neg: float = 4.0, gamma_pos: float = 0.0, clip: float = 0.05,
                 reduction: str = 'mean', loss_weight: float = 10.0,
                 loss_name: str = 'loss_asl') -> None:
        super().__init__()
        if reduction not in ('mean', 'sum', 'none'):
            raise ConfigError(f"AsymmetricLoss reduction={reduction!r}: expected 'mean', "
                              "'sum' or 'none'")
        self.gamma_neg, self.gamma_pos, self.clip = gamma_neg, gamma_pos, clip
        self.reduction, self.loss_weight, self._loss_name = reduction, loss_weight, loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * asymmetric_loss(logits, targets, self.gamma_neg,
                                                  self.gamma_pos, self.clip,
                                                  reduction=self.reduction)



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
