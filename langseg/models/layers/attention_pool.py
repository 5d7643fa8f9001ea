"""CLIP's attention pooling run densely: a global and a per-pixel embedding.

CLIP's ResNet ends with an attention pool whose single query is the mean token. DenseCLIP
runs it over *all* tokens, so every pixel gets an embedding in the text space:
``tokens = [mean; x_1 .. x_HW] + pos`` (the positional embedding resized from the stored
grid to the actual H x W at every forward; bilinear, ``align_corners=False``, as the
official DenseCLIP code does), full multi-head attention over the
HW + 1 tokens, then ``c_proj``. Token 0 is the global embedding; since every query attends
independently, it equals CLIP's own pooled output. The parameter names are open_clip's
``AttentionPool2d``'s, so CLIP weights load unchanged; with random weights the same module
is DenseCLIP's pool for backbones that have none (ImageNet ResNet, Swin, lightweight CNNs).

``dense_mode='value'`` is the cheaper reading (MaskCLIP's value path, used by CLIP-SP): a
pixel's embedding is ``c_proj(v_proj(x_i + pos_i))``, no query/key per pixel, and the
global token is CLIP's single-query pooling computed in the reassociated form
``softmax((q_h W_k,h) t^T + q_h . b_k,h) t W_v,h^T + b_v,h`` per head h (exact, since the
weights of a softmax sum to 1), which costs O(HW C) instead of the O(HW C^2) of
projecting every key. On CLIP RN50 at 1024x1024 the 'attention' mode costs 18.5 GFLOPs,
the 'value' mode 6.5.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...utils.errors import ConfigError
from .pos_embed import PosInterp, resize_grid_pos_embed


class DenseAttentionPool2d(nn.Module):
    """Attention pooling over all positions (see module docstring).

    Args:
        spacial_dim: side of the grid the positional embedding is stored for (7 for CLIP
            at 224 px).
        embed_dim: input channels.
        num_heads: attention heads.
        output_dim: output channels (CLIP's embedding width).
        dense_mode: ``'attention'`` (DenseCLIP: every token attends) or ``'value'``
            (MaskCLIP's value path for the pixels, exact single-query pooling for the
            global token).
        pos_interp: how the stored positional grid is resized to the actual one
            (``'bilinear'``, DenseCLIP's; see ``langseg.models.layers.pos_embed``).
    """

    DENSE_MODES = ('attention', 'value')

    def __init__(self, spacial_dim: int, embed_dim: int, num_heads: int,
                 output_dim: int | None = None, dense_mode: str = 'attention',
                 pos_interp: PosInterp = 'bilinear') -> None:
        super().__init__()
        if dense_mode not in self.DENSE_MODES:
            raise ConfigError(f'dense_mode={dense_mode!r}: expected one of '
                              f'{", ".join(self.DENSE_MODES)}')
        self.dense_mode = dense_mode
        self.pos_interp = pos_interp
        self.spacial_dim = spacial_dim
        self.num_heads = num_heads
        self.positional_embedding = nn.Parameter(
            torch.randn(spacial_dim**2 + 1, embed_dim) / embed_dim**0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim or embed_dim)
        std = embed_dim**-0.5  # CLIP's initialisation
        for linear in (self.q_proj, self.k_proj, self.v_proj, self.c_proj):
            nn.init.normal_(linear.weight, std=std)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, C, H, W) -> global (B, D) and dense (B, D, H, W)."""
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)                      # B, HW, C
        tokens = torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)
        pos = resize_grid_pos_embed(self.positional_embedding,
                                    (self.spacial_dim, self.spacial_dim), (h, w),
                                    interp=self.pos_interp)
        tokens = tokens + pos.to(tokens.dtype)
        if self.dense_mode == 'value':
            return self._value_path(tokens, h, w)
        heads = self.num_heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, h * w + 1, heads, c // heads).transpose(1, 2)

        q, k, v = split(self.q_proj(tokens)), split(self.k_proj(tokens)), split(self.v_proj(tokens))
        out = F.scaled_dot_product_attention(q, k, v)               # B, heads, HW+1, C/heads
        out = self.c_proj(out.transpose(1, 2).reshape(b, h * w + 1, c))
        dense = out[:, 1:].transpose(1, 2).reshape(b, -1, h, w)
        return out[:, 0], dense

    def _value_path(self, tokens: torch.Tensor, h: int, w: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``dense_mode='value'``: see the module docstring. ``tokens`` (B, 1+HW, C)."""
        b, n, c = tokens.shape
        heads, head_dim = self.num_heads, c // self.num_heads
        dense = self.c_proj(self.v_proj(tokens[:, 1:]))                     # B, HW, D
        q = self.q_proj(tokens[:, 0]).reshape(b, heads, 1, head_dim)       # mean token
        w_k = self.k_proj.weight.reshape(heads, head_dim, c)
        q_k = q @ w_k                                                       # B, h, 1, C
        bias_k = (q * self.k_proj.bias.reshape(heads, 1, head_dim)).sum(-1, keepdim=True)
        scores = (q_k @ tokens[:, None].transpose(-2, -1) + bias_k) * head_dim**-0.5
        pooled = torch.softmax(scores, dim=-1) @ tokens[:, None]            # B, h, 1, C
        w_v = self.v_proj.weight.reshape(heads, head_dim, c)
        out = (pooled @ w_v.transpose(-2, -1)).reshape(b, c) + self.v_proj.bias
        return self.c_proj(out), dense.transpose(1, 2).reshape(b, -1, h, w)
