"""Asymmetric loss (ASL) for multi-label classification (Ridnik et al., ICCV 2021, Eq. 3-7).

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
"""
from __future__ import annotations

import torch
from torch import nn

from ...registry import MODELS


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
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.gamma_neg, self.gamma_pos, self.clip = gamma_neg, gamma_pos, clip
        self.reduction, self.loss_weight, self._loss_name = reduction, loss_weight, loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * asymmetric_loss(logits, targets, self.gamma_neg,
                                                  self.gamma_pos, self.clip,
                                                  reduction=self.reduction)
