"""Pieces of the "attention surgery" that training-free dense CLIP methods perform on a
CLIP ViT's blocks, shared by ResCLIP and SC-CLIP (and the NACLIP-style neighbourhood),
beside the per-head projections and value sums of ``self_similarity_attention.py``
(``packed_qkv``, ``attend``, which it uses):

* :func:`qk_attention` / :func:`block_forward_with_attention`: CLIP's own attention
  ``softmax(q k^T / sqrt(d))`` and a block's forward that also returns it (ResCLIP's
  residual cross-correlation attention averages these maps of intermediate blocks: Yang,
  Deng, Li and Duan, "ResCLIP: Residual Attention for Training-free Dense
  Vision-language Inference", CVPR 2025, arXiv:2411.15851, Sec. 3.2);
* :func:`self_scores`: the scaled self-correlation ``x x^T / sqrt(d)`` of one projection
  (the k-k attention of NACLIP, ResCLIP and SC-CLIP);
* :func:`gaussian_neighbourhood`: NACLIP's additive neighbourhood prior ``omega`` on the
  patch grid (Hajimiri, Ben Ayed and Dolz, "Pay Attention to Your Neighbours:
  Training-Free Open-Vocabulary Semantic Segmentation", WACV 2025, arXiv:2404.08181,
  Eq. 5-6), with the class token's row and column zero.

Tokens are batch-first ``(B, N, C)`` with the class token first where there is one;
per-head tensors ``(B, heads, N, d)``; attention weights ``(B, heads, N, N)``. Blocks are
open_clip ``ResidualAttentionBlock``s (``ln_1``, ``attn``, ``ls_1``, ``ln_2``, ``mlp``,
``ls_2``).
"""
from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from .self_similarity_attention import attend, packed_qkv

__all__ = ['block_forward_with_attention', 'gaussian_neighbourhood', 'qk_attention',
           'self_scores']


def self_scores(x: torch.Tensor) -> torch.Tensor:
    """``x x^T / sqrt(d)`` (B, heads, N, N) of per-head projections ``x`` (B, heads, N, d),
    before any softmax."""
    return x @ x.transpose(-2, -1) * x.shape[-1] ** -0.5


def qk_attention(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """CLIP's attention weights ``softmax(q k^T / sqrt(d))`` (B, heads, N, N)."""
    return (q * q.shape[-1] ** -0.5 @ k.transpose(-2, -1)).softmax(dim=-1)


def block_forward_with_attention(block: nn.Module, x: torch.Tensor
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """A CLIP block's own forward, ``x + ls_1(attn(ln_1(x))); x + ls_2(mlp(ln_2(x)))``, that
    also returns its attention weights (B, heads, N, N)."""
    q, k, v = packed_qkv(block.attn, block.ln_1(x))
    weights = qk_attention(q, k)
    x = x + block.ls_1(block.attn.out_proj(attend(weights, v)))
    return x + block.ls_2(block.mlp(block.ln_2(x))), weights


def gaussian_neighbourhood(h: int, w: int, std: float, with_class_token: bool = True,
                           device: torch.device | None = None) -> torch.Tensor:
    """NACLIP's neighbourhood prior for an ``h x w`` patch grid (row-major): ``omega[i, j] =
    exp(-((r_i - r_j)^2 + (c_i - c_j)^2) / (2 std^2))``, the Gaussian of the offset between
    patches i and j, added to the attention scores before the softmax; ``(h*w, h*w)``, or
    ``(1 + h*w, 1 + h*w)`` with a zero row and column for the class token. (The official
    code builds it by convolving a one-hot map with a ``(2h-1) x (2w-1)`` Gaussian window,
    which gives these values.)"""
    return _gaussian_neighbourhood(int(h), int(w), float(std), bool(with_class_token)).to(
        device or 'cpu')


@lru_cache(maxsize=32)
def _gaussian_neighbourhood(h: int, w: int, std: float, with_class_token: bool
                            ) -> torch.Tensor:
    """:func:`gaussian_neighbourhood` on the CPU, built once a grid (callers do not edit
    it: they move or cast it)."""
    rows = torch.arange(h, dtype=torch.float32)
    cols = torch.arange(w, dtype=torch.float32)
    dr = (rows[:, None] - rows[None, :]) ** 2                       # h, h
    dc = (cols[:, None] - cols[None, :]) ** 2                       # w, w
    dist = dr[:, None, :, None] + dc[None, :, None, :]               # h, w, h, w
    omega = torch.exp(-dist / (2 * float(std) ** 2)).reshape(h * w, h * w)
    if with_class_token:
        omega = F.pad(omega, (1, 0, 1, 0))
    return omega
