"""Tokens of an open_clip ``VisionTransformer`` for any input size.

Patch embedding, class token, positional embedding resized from the stored grid to the
actual one (by the model's rule, ``langseg.models.layers.pos_embed``: DenseCLIP resizes
bilinear, ProxyCLIP's official code by DINO's scale-factor rule), ``ln_pre``: the input of
the first block, ``(B, 1 + h*w, C)``. Shared by the dense CLIP ViT backbone, SegCLIP's
encoder and the training-free segmentors.
"""
from __future__ import annotations

import torch
from torch import nn

from ..layers.pos_embed import PosInterp, resize_grid_pos_embed


def embed_vit_tokens(visual: nn.Module, x: torch.Tensor, pos_interp: PosInterp = 'bicubic',
                     double_class_embedding: bool = False
                     ) -> tuple[torch.Tensor, tuple[int, int]]:
    """``x`` (B, 3, H, W) -> tokens (B, 1 + h*w, C) and the patch grid ``(h, w)``.

    ``double_class_embedding`` reproduces the official DenseCLIP ViT, which adds the class
    embedding a second time into the class token's positional slot (off by default)."""
    x = visual.conv1(x.to(visual.conv1.weight.dtype))
    b, c, h, w = x.shape
    tokens = x.flatten(2).transpose(1, 2)
    cls = visual.class_embedding.to(tokens.dtype).expand(b, 1, c)
    tokens = torch.cat([cls, tokens], dim=1)
    pos = resize_grid_pos_embed(visual.positional_embedding, visual.grid_size, (h, w),
                                interp=pos_interp)
    if double_class_embedding:
        pos = torch.cat([pos[:1] + visual.class_embedding, pos[1:]], dim=0)
    tokens = visual.patch_dropout(tokens + pos.to(tokens.dtype))
    return visual.ln_pre(tokens), (h, w)
