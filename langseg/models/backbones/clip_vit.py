"""CLIP's ViT as a dense, multi-level backbone (DenseCLIP's adapters).

The tower is open_clip's ``VisionTransformer``. The patch tokens after the blocks in
``out_indices`` (default 3, 5, 7, 11 for ViT-B) become maps of stride 16 (patch 16), and
DenseCLIP's multi-scale adapters (Rao et al., CVPR 2022, arXiv:2112.01518; after BEiT)
turn them into a pyramid, each behind a ``GroupNorm(1, C)`` as in the official code:
``fpn1`` = GN -> ConvT 2x2/2 -> BN -> GELU -> ConvT 2x2/2 (stride 4), ``fpn2`` = GN ->
ConvT (stride 8), ``fpn3`` = GN (stride 16), ``fpn4`` = GN -> 2x2 max pool (stride 32).
The module layout is the official one, so its state-dict keys are too (``fpn1.0`` GN,
``fpn1.1`` ConvT, ``fpn1.2`` BN, ``fpn1.4`` ConvT, ``fpn2.0``/``fpn2.1``, ``fpn3``,
``fpn4.0``).

With ``with_embeddings``, ``ln_post`` and the visual projection are applied to every token
of the last block: token 0 is the global embedding, the others the dense ``(B, D, h, w)``
map, returned by name in a :class:`~langseg.models.backbones.output.BackboneOutput` with
the four maps (without ``with_embeddings``: mmseg's plain tuple of maps).

Any input size works: the positional embedding is stored for ``input_resolution`` (a
640 px tower keeps a 40x40 grid, as DenseCLIP's configs do; pretrained 224 px weights are
resized into it when loaded) and resized to the actual grid at every forward, both
bilinear with ``align_corners=False`` as the official code does (``pos_interp``).
The class embedding is added once by default, as the class token; the official DenseCLIP
code also adds it into the class token's positional slot. ``double_class_embedding=True``
reproduces that, and the configs of a published DenseCLIP or FPN ViT-B/16 number set it
(they were trained so); the single add is the opt-in departure.
"""
from __future__ import annotations

from typing import Sequence

import torch
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import nn

from ...registry import MODELS
from ...utils.errors import ConfigError
from ..clip import (build_visual_tower, embed_vit_tokens, get_clip_config, is_resnet,
                    load_pretrained_tower)
from ..layers import DropPath, residual_block_forward
from .output import BackboneOutput, Embeddings


@MODELS.register_module()
class CLIPViT(BaseModule):
    """CLIP ViT backbone with DenseCLIP's multi-level adapters and dense embeddings.

    Args:
        arch: CLIP ViT architecture ('ViT-B-16', 'ViT-L-14', 'tiny-vit' or a dict).
        pretrained: open_clip tag or weights file, loaded by :meth:`init_weights`.
        input_resolution: image size the positional embedding is stored for.
        out_indices: blocks whose patch tokens feed the four adapters.
        with_embeddings: return a ``BackboneOutput`` with the (global, dense) projected
            embeddings (for a fusion module); without
            it ``ln_post`` and the projection are not built (their weights are skipped).
        drop_path_rate: stochastic depth, linearly increasing over the blocks.
        norm_cfg: norm layer inside ``fpn1`` (SyncBN, the official; BN on one process).
        pos_interp: how the positional grid is resized, on loading and at run time
            (``'bilinear'``: DenseCLIP's; ``langseg.models.layers.pos_embed``).
        double_class_embedding: add the class embedding a second time into the class
            token's position, as the official DenseCLIP code does (set by the DenseCLIP/FPN
            ViT-B/16 configs).
        quick_gelu: the tower's activation (QuickGELU or GELU); ``None`` decides from the
            weights, then the architecture (``langseg.models.clip.loading``).
    """

    def __init__(self,
                 arch: str | dict = 'ViT-B-16',
                 pretrained: str | None = None,
                 input_resolution: int = 224,
                 out_indices: Sequence[int] = (3, 5, 7, 11),
                 with_embeddings: bool = True,
                 drop_path_rate: float = 0.0,
                 norm_cfg: dict = dict(type='SyncBN', requires_grad=True),
                 pos_interp: str | dict = 'bilinear',
                 double_class_embedding: bool = False,
                 quick_gelu: bool | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        cfg = get_clip_config(arch)
        if is_resnet(cfg):
            raise ConfigError(f'CLIPViT needs a ViT CLIP architecture, got {arch!r} '
                              '(use CLIPResNet for ResNet architectures)')
        if len(out_indices) != 4:
            raise ConfigError(f'CLIPViT out_indices must name 4 blocks, got {out_indices}')
        self.arch, self.pretrained = arch, pretrained
        self.out_indices = tuple(out_indices)
        self.with_embeddings = with_embeddings
        self.pos_interp = pos_interp
        self.double_class_embedding = bool(double_class_embedding)
        self.visual = build_visual_tower(arch, pretrained, quick_gelu,
                                         image_size=input_resolution)
        width = self.visual.transformer.width
        depth = len(self.visual.transformer.resblocks)
        if max(self.out_indices) >= depth:
            raise ConfigError(f'out_indices {out_indices} exceed the {depth} blocks of {arch}')
        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.drop_paths = nn.ModuleList(DropPath(r) if r > 0 else nn.Identity() for r in rates)
        self.fpn1 = nn.Sequential(
            nn.GroupNorm(1, width),
            nn.ConvTranspose2d(width, width, kernel_size=2, stride=2),
            build_norm_layer(norm_cfg, width)[1],
            nn.GELU(),
            nn.ConvTranspose2d(width, width, kernel_size=2, stride=2))
        self.fpn2 = nn.Sequential(nn.GroupNorm(1, width),
                                  nn.ConvTranspose2d(width, width, kernel_size=2, stride=2))
        self.fpn3 = nn.GroupNorm(1, width)
        self.fpn4 = nn.Sequential(nn.GroupNorm(1, width), nn.MaxPool2d(kernel_size=2, stride=2))
        self.out_channels = [width] * 4
        self.embed_dim = self.visual.output_dim if with_embeddings else None
        if not with_embeddings:  # not built, as in DenseCLIP's baseline (100.8 M params)
            self.visual.ln_post, self.visual.proj = nn.Identity(), None

    def init_weights(self) -> None:
        super().init_weights()
        if self.pretrained is not None:
            load_pretrained_tower(
                self.visual, self.arch, self.pretrained, 'visual', 'the CLIP ViT backbone',
                ignore_prefixes=() if self.with_embeddings else ('ln_post.', 'proj'),
                resize_pos_embed_keys=('positional_embedding', ),
                pos_interp=self.pos_interp)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Patch embedding + class token + resized positions + ln_pre -> (B, 1+hw, C)."""
        return embed_vit_tokens(self.visual, x, self.pos_interp, self.double_class_embedding)

    def forward(self, x: torch.Tensor) -> BackboneOutput | tuple[torch.Tensor, ...]:
        tokens, (h, w) = self.embed(x)
        b = tokens.shape[0]
        maps = []
        for i, block in enumerate(self.visual.transformer.resblocks):
            tokens = residual_block_forward(block, tokens, drop_path=self.drop_paths[i])
            if i in self.out_indices:
                maps.append(tokens[:, 1:].transpose(1, 2).reshape(b, -1, h, w))
        outs = [fpn(m) for fpn, m in zip((self.fpn1, self.fpn2, self.fpn3, self.fpn4), maps)]
        if self.with_embeddings:
            emb = self.visual.ln_post(tokens) @ self.visual.proj
            dense = emb[:, 1:].transpose(1, 2).reshape(b, -1, h, w)
            return BackboneOutput(tuple(outs), Embeddings(emb[:, 0], dense))
        return tuple(outs)
