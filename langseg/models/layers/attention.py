"""Multi-head attention whose projections can each be switched off.

``MHA(Q, K, V) = concat_h softmax(Q_h K_h^T / sqrt(d)) V_h`` (Vaswani et al. 2017), with
``Q = q W^Q``, ``K = k W^K``, ``V = v W^V`` and an output projection ``W^O``; any of the
four projections may be dropped (``None``): the lightweight cross attention of
Conv-Former (Jin & Yang, arXiv:2310.07394, Eq. 3-4) removes ``W^K, W^V`` on the image side of Conv2Former
and ``W^Q, W^O`` on the image side of Former2Conv; Mobile-Former's bridge does the same.

``weighting='inner_product'`` replaces the softmax by the plain scaled inner product
divided by the number of keys (a linear attention): Conv-Former's ablation "cross
attention replaced by an inner product" (Jin & Yang, arXiv:2310.07394, Sec. 4.4).

The attention itself runs through ``F.scaled_dot_product_attention`` (the FLOPs counter
has a handle for it), on ``(B, N, C)`` batch-first tokens.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...utils.errors import ConfigError

WEIGHTINGS = ('softmax', 'inner_product')


class MultiHeadAttention(nn.Module):
    """Multi-head (cross) attention with optional projections.

    Args:
        dim: width of the queries and of the output.
        num_heads: heads; ``dim`` must divide by it.
        key_dim: width of the keys/values (``dim`` by default). Without a key/value
            projection it must equal ``dim``.
        inner_dim: width the projections map to, where the heads attend (``dim`` by
            default); smaller makes a cheaper attention (CLIP-SP's decoder uses dim / 2).
            Without ``W^Q``/``W^K``/``W^V``/``W^O`` it must equal ``dim``.
        q_proj, k_proj, v_proj, out_proj: build ``W^Q``, ``W^K``, ``W^V``, ``W^O``.
        qkv_bias: bias of the input projections.
        weighting: ``'softmax'`` (attention) or ``'inner_product'`` (ablation).
        attn_drop, proj_drop: dropout on the attention weights / the output.
    """

    def __init__(self, dim: int, num_heads: int, key_dim: int | None = None,
                 inner_dim: int | None = None, q_proj: bool = True, k_proj: bool = True, v_proj: bool = True,
                 out_proj: bool = True, qkv_bias: bool = True,
                 weighting: str = 'softmax', attn_drop: float = 0.0,
                 proj_drop: float = 0.0) -> None:
        super().__init__()
        key_dim = key_dim or dim
        inner_dim = inner_dim or dim
        if inner_dim % num_heads:
            raise ConfigError(f'attention width {inner_dim} is not divisible by {num_heads} '
                              'heads: expected num_heads to divide the width')
        if inner_dim != dim and not (q_proj and k_proj and v_proj and out_proj):
            raise ConfigError(f'an inner width {inner_dim} != {dim} without all four '
                              'projections: expected q_proj, k_proj, v_proj and out_proj')
        if weighting not in WEIGHTINGS:
            raise ConfigError(f'attention weighting={weighting!r}: expected one of '
                              f'{", ".join(WEIGHTINGS)}')
        if key_dim != dim and not (k_proj and v_proj):
            raise ConfigError(f'keys of width {key_dim} without W^K and W^V: expected '
                              f'k_proj and v_proj to reach width {dim}')
        self.dim, self.num_heads, self.weighting = dim, num_heads, weighting
        self.inner_dim = inner_dim
        self.head_dim = inner_dim // num_heads
        self.q_proj = nn.Linear(dim, inner_dim, bias=qkv_bias) if q_proj else None
        self.k_proj = nn.Linear(key_dim, inner_dim, bias=qkv_bias) if k_proj else None
        self.v_proj = nn.Linear(key_dim, inner_dim, bias=qkv_bias) if v_proj else None
        self.out_proj = nn.Linear(inner_dim, dim) if out_proj else None
        self.attn_drop = attn_drop
        self.proj_drop = nn.Dropout(proj_drop)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor,
                value: torch.Tensor | None = None) -> torch.Tensor:
        """``query`` (B, Nq, dim), ``key``/``value`` (B, Nk, key_dim) -> (B, Nq, dim)."""
        value = key if value is None else value
        q = self.q_proj(query) if self.q_proj is not None else query
        k = self.k_proj(key) if self.k_proj is not None else key
        v = self.v_proj(value) if self.v_proj is not None else value
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        drop = self.attn_drop if self.training else 0.0
        if self.weighting == 'softmax':
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        else:
            weights = q @ k.transpose(-2, -1) * (self.head_dim**-0.5 / k.shape[-2])
            out = F.dropout(weights, drop, self.training) @ v
        out = out.transpose(1, 2).reshape(query.shape[0], query.shape[1], self.inner_dim)
        if self.out_proj is not None:
            out = self.out_proj(out)
        return self.proj_drop(out)
