"""The pieces of the last-block attentions of the training-free dense CLIP methods.

SCLIP, ClearCLIP and NACLIP replace the query-key attention of CLIP's last block by
attention weights built from one projection compared with itself, so that every patch
attends to patches like itself rather than to the few tokens all queries agree on:

* SCLIP's correlative self-attention ``softmax(q q^T s) + softmax(k k^T s)`` (Wang et al.,
  "SCLIP: Rethinking Self-Attention for Dense Vision-Language Inference", ECCV 2024,
  arXiv:2312.01597; github.com/wangf3014/SCLIP);
* ClearCLIP's ``softmax(q q^T s)`` (Lan et al., "ClearCLIP: Decomposing CLIP
  Representations for Dense Vision-Language Inference", ECCV 2024, arXiv:2407.12442;
  github.com/mc-lan/ClearCLIP);
* NACLIP's ``softmax(k k^T s + G)`` with a Gaussian neighbourhood ``G`` (Hajimiri et al.,
  "Pay Attention to Your Neighbours: Training-Free Open-Vocabulary Semantic Segmentation",
  WACV 2025, arXiv:2404.08181; github.com/sinahmr/NACLIP).

Here are the shared parts, on an ``nn.MultiheadAttention`` with a packed input projection
(open_clip's and OpenAI's CLIP blocks): the per-head projections (:func:`packed_qkv`),
the self-similarity weights (:func:`self_similarity`, scaled by ``head_dim ** -0.5`` as
CLIP's own attention) and the weighted sum of the values, heads merged
(:func:`attend`). Tokens are batch-first ``(B, N, C)``; the weights ``(B, heads, N, N)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['attend', 'packed_qkv', 'self_similarity']


def packed_qkv(attn: nn.MultiheadAttention, x: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``x`` (B, N, C), the block's normalised input -> q, k, v (B, heads, N, C / heads)
    from the packed ``in_proj`` (weight and bias)."""
    b, n, c = x.shape
    heads = attn.num_heads
    qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias)
    qkv = qkv.reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    return qkv[0], qkv[1], qkv[2]


def self_similarity(x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``softmax(x x^T / sqrt(d) [+ bias])`` over the last axis, for per-head projections
    ``x`` (B, heads, N, d); ``bias`` (N, N) is added before the softmax (NACLIP's
    neighbourhood)."""
    scores = x @ x.transpose(-2, -1) * x.shape[-1] ** -0.5
    if bias is not None:
        scores = scores + bias.to(scores)
    return scores.softmax(dim=-1)


def attend(weights: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Attention weights (B, heads, N, N) and values (B, heads, N, d) -> the attention's
    output before ``out_proj``, heads merged: (B, N, heads * d)."""
    out = weights @ v
    b, heads, n, d = out.shape
    return out.transpose(1, 2).reshape(b, n, heads * d)
