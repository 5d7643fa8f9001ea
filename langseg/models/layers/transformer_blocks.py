"""Forward passes over open_clip's transformer blocks that the methods share.

langseg keeps open_clip's modules (so their parameter names, and therefore every CLIP
checkpoint, load unchanged) and adds the passes the methods need:

* :func:`residual_block_forward`: a CLIP block with stochastic depth (timm's ``DropPath``;
  DenseCLIP's ViT uses drop path 0.1 and open_clip's blocks have none);
* :func:`block_value_path`: the value projection of a block's attention on its
  pre-normalised input (MaskCLIP's value-only last block, ProxyCLIP's proxy attention).

Blocks are open_clip ``ResidualAttentionBlock``s: ``ln_1``, ``attn``
(``nn.MultiheadAttention`` with a packed ``in_proj``), ``ls_1``, ``ln_2``, ``mlp``, ``ls_2``;
tokens are batch-first ``(B, N, C)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import DropPath
from torch import nn

__all__ = ['DropPath', 'block_value_path', 'residual_block_forward']


def residual_block_forward(block: nn.Module, x: torch.Tensor,
                           attn_mask: torch.Tensor | None = None,
                           drop_path: nn.Module | None = None) -> torch.Tensor:
    """``x + dp(ls_1(attn(ln_1(x)))); x + dp(ls_2(mlp(ln_2(x))))`` for a CLIP block."""
    drop = drop_path if drop_path is not None else nn.Identity()
    y = block.ln_1(x)
    if attn_mask is not None:
        attn_mask = attn_mask.to(y.dtype)
    y = block.attn(y, y, y, need_weights=False, attn_mask=attn_mask)[0]
    x = x + drop(block.ls_1(y))
    return x + drop(block.ls_2(block.mlp(block.ln_2(x))))


def block_value_path(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The value tokens ``ln_1(x) W_v + b_v`` of a block's attention, ``(B, N, C)``."""
    attn: nn.MultiheadAttention = block.attn
    width = attn.embed_dim
    weight = attn.in_proj_weight[2 * width:]
    bias = attn.in_proj_bias[2 * width:] if attn.in_proj_bias is not None else None
    return F.linear(block.ln_1(x), weight, bias)
