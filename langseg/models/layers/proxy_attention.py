"""ProxyCLIP's proxy attention (Lan et al., ECCV 2024, Sec. 3.2, "Proxy Attention Module").

CLIP's last attention keeps only its value path; the attention weights come from a vision
foundation model (VFM) instead of CLIP's queries and keys:

    F = l2norm(VFM features)            (B, N, C)   N = VFM tokens
    S = F F^T                           (B, N, N)   cosine affinities
    A = gamma * (S - beta * mean(S))                mean per image (the official code
                                                    takes it over the whole batch)
    M_ij = -inf where A_ij < 0                      (masking)
    out = softmax(A + M) V              (B, N, D)   one attention for every head

The value tokens ``V`` are CLIP's, bilinearly resized from CLIP's patch grid to the VFM's
grid. A row whose every entry is masked (possible only when ``beta * mean(S) > 1``, since
``S_ii = 1`` is the row maximum) would give NaN; here such a row attends to its own token
(the diagonal is never masked), so ``out_i = V_i``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def proxy_affinity(vfm_features: torch.Tensor, beta: float, gamma: float) -> torch.Tensor:
    """``vfm_features`` (B, C, h, w) -> attention weights (B, h*w, h*w), rows sum to 1
    (computed in fp32 whatever the features' dtype)."""
    feats = F.normalize(vfm_features.flatten(2).transpose(1, 2).float(), dim=-1)  # B, N, C
    sim = feats @ feats.transpose(1, 2)
    logits = gamma * (sim - beta * sim.mean(dim=(1, 2), keepdim=True))
    diagonal = torch.eye(logits.shape[-1], dtype=torch.bool, device=logits.device)
    masked = (logits < 0) & ~diagonal
    return torch.softmax(logits.masked_fill(masked, float('-inf')), dim=-1)


def resize_value_grid(values: torch.Tensor, grid: tuple[int, int],
                      size: tuple[int, int]) -> torch.Tensor:
    """CLIP value tokens (B, h*w, D) on ``grid`` -> (B, H*W, D) on ``size`` (bilinear)."""
    b, _, d = values.shape
    v = values.transpose(1, 2).reshape(b, d, *grid)
    if tuple(grid) != tuple(size):
        v = F.interpolate(v, size=size, mode='bilinear', align_corners=False)
    return v.flatten(2).transpose(1, 2)


def proxy_attention(values: torch.Tensor, vfm_features: torch.Tensor, beta: float = 1.2,
                    gamma: float = 3.0) -> torch.Tensor:
    """``softmax(A + M) V`` with ``V`` (B, N, D) already on the VFM grid of
    ``vfm_features`` (B, C, h, w), N = h*w. Returns (B, N, D)."""
    attn = proxy_affinity(vfm_features, beta, gamma)
    return (attn.to(values.dtype) @ values)
