"""Conv-Former: the fusion module of "CLIP for Lightweight Semantic Segmentation" (Jin & Yang, arXiv:2310.07394).

A parallel CNN (on the image map ``I``) and transformer (on the K class embeddings ``T``)
joined by a two-way bridge of *lightweight* cross attention (Sec. 3.2-3.3, Fig. 2):

* **Conv2Former** (Eq. 3): a 3x3 stride-3 convolution turns ``I`` (H x W x C) into
  ``x`` (H/3 x W/3 x C); ``T <- T + MHA(T W^Q, x, x) W^O``: text queries are projected,
  the image keys/values are *not* (W^K, W^V removed on the Conv side).
* **Former**: a standard transformer block on ``T``: MHSA + FFN with expansion 2, post
  LayerNorm (``T <- LN(T + MHSA(T)); T <- LN(T + FFN(T))``).
* **Conv**: a MobileNetV2 inverted bottleneck with a 3x3 depthwise convolution and a
  residual.
* **Former2Conv** (Eq. 4): ``I <- I + MHA(I, T W^K, T W^V)``: every pixel of the
  full-resolution map is a query with *no* projection (and no output projection), keys
  and values are projected from the text.

``N`` blocks are stacked (6 by default) and wrapped in an outer residual (Eq. 1)
``[T', I'] = ConvFormer([T, I]) + [T, I]``; then ``S = I' T'^T`` (Eq. 2, K score
channels) and ``X = [I', S]`` replaces the map of ``score_level`` fed to Semantic FPN.

Interpretations (the paper is silent; see docs/methods/convformer.md):

* **Which map is I.** With a CLIP backbone that returns (global, dense) embeddings the
  dense embedding is ``I`` (it is already "language-compatible", in the text width C).
  Otherwise ``I`` is the backbone map of ``score_level`` projected to C by a 1x1
  convolution + BN + ReLU (``image_proj``) *before* the blocks, so the outer residual, the
  bridge and ``S`` all live in the text width; ``X = [I', S]`` therefore has C + K
  channels.
* **Heads and widths.** All attentions use ``num_heads`` (8) heads of width C / 8; the
  inverted bottleneck expands by ``conv_expand_ratio`` (2, like the Former's FFN), with BN
  and ReLU6 as in MobileNetV2; Conv2Former's downsampling convolution has BN.
* **Order inside a block** (Mobile-Former's): Conv2Former -> (Former || Conv) ->
  Former2Conv.
* **Ablation "cross attention replaced by an inner product"** (Sec. 4.4):
  ``bridge='inner_product'`` keeps every projection but replaces the softmax of both
  bridges by the scaled inner product divided by the number of keys.
* ``S`` is the plain inner product of Eq. 2 (no normalisation, no temperature).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import nn

from ...models.backbones.output import BackboneOutput
from ...models.layers import MultiHeadAttention
from ...models.segmentors.fusion_contract import BaseFusion, FusionOutput, TrainState
from ...registry import MODELS
from ...utils.errors import ConfigError


@dataclass
class ConvFormerOutput(FusionOutput):
    """:class:`ConvFormerFusion`'s output: ``maps`` (``X = [I', S]`` at ``score_level``),
    ``score`` S (B, K, H, W) of Eq. 2, and ``text``: the class embeddings T' after the
    blocks and the outer residual of Eq. 1 (B, K, C)."""

    text: torch.Tensor | None = None


class Conv2Former(nn.Module):
    """``T + MHA(T W^Q, x, x) W^O`` with ``x`` the stride-3 downsampled map (Eq. 3)."""

    def __init__(self, dim: int, num_heads: int, weighting: str, norm_cfg: dict) -> None:
        super().__init__()
        self.downsample = ConvModule(dim, dim, 3, stride=3, norm_cfg=norm_cfg, act_cfg=None)
        self.attn = MultiHeadAttention(dim, num_heads, q_proj=True, k_proj=False,
                                       v_proj=False, out_proj=True, weighting=weighting)

    def forward(self, text: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        if min(image.shape[-2:]) < 3:  # a map smaller than one 3x3 patch: pad it
            pad_h, pad_w = max(0, 3 - image.shape[-2]), max(0, 3 - image.shape[-1])
            image = nn.functional.pad(image, (0, pad_w, 0, pad_h), mode='replicate')
        x = self.downsample(image)
        tokens = x.flatten(2).transpose(1, 2)                         # B, hw/9, C
        return text + self.attn(text, tokens, tokens)


class Former(nn.Module):
    """Post-LN transformer block on the text tokens, FFN expansion 2."""

    def __init__(self, dim: int, num_heads: int, ffn_ratio: int, dropout: float) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(dim, num_heads, proj_drop=dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, dim * ffn_ratio), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(dim * ffn_ratio, dim),
                                 nn.Dropout(dropout))
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        text = self.norm1(text + self.attn(text, text, text))
        return self.norm2(text + self.ffn(text))


class InvertedBottleneck(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 project (linear), residual."""

    def __init__(self, dim: int, expand_ratio: int, norm_cfg: dict) -> None:
        super().__init__()
        hidden = dim * expand_ratio
        act = dict(type='ReLU6')
        self.expand = ConvModule(dim, hidden, 1, norm_cfg=norm_cfg, act_cfg=act)
        self.depthwise = ConvModule(hidden, hidden, 3, padding=1, groups=hidden,
                                    norm_cfg=norm_cfg, act_cfg=act)
        self.project = ConvModule(hidden, dim, 1, norm_cfg=norm_cfg, act_cfg=None)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return image + self.project(self.depthwise(self.expand(image)))


class Former2Conv(nn.Module):
    """``I + MHA(I, T W^K, T W^V)``: unprojected pixel queries (Eq. 4)."""

    def __init__(self, dim: int, num_heads: int, weighting: str) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(dim, num_heads, q_proj=False, k_proj=True,
                                       v_proj=True, out_proj=False, weighting=weighting)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        b, c, h, w = image.shape
        pixels = image.flatten(2).transpose(1, 2)                     # B, HW, C
        update = self.attn(pixels, text, text)
        return image + update.transpose(1, 2).reshape(b, c, h, w)


class ConvFormerBlock(nn.Module):
    """Conv2Former -> (Former || Conv) -> Former2Conv."""

    def __init__(self, dim: int, num_heads: int, ffn_ratio: int, conv_expand_ratio: int,
                 weighting: str, dropout: float, norm_cfg: dict) -> None:
        super().__init__()
        self.conv2former = Conv2Former(dim, num_heads, weighting, norm_cfg)
        self.former = Former(dim, num_heads, ffn_ratio, dropout)
        self.conv = InvertedBottleneck(dim, conv_expand_ratio, norm_cfg)
        self.former2conv = Former2Conv(dim, num_heads, weighting)

    def forward(self, text: torch.Tensor, image: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        text = self.conv2former(text, image)
        text = self.former(text)
        image = self.conv(image)
        return text, self.former2conv(image, text)


@MODELS.register_module(name=['ConvFormerFusion', 'ConvFormerNeck'])
class ConvFormerFusion(BaseFusion):
    """The Conv-Former fusion module (Jin & Yang, arXiv:2310.07394, Eq. 1-2; see module docstring).

    A :class:`~langseg.models.segmentors.fusion_contract.BaseFusion` of the language-guided
    segmentor, registered as ``ConvFormerFusion`` and, for configs written before the
    rename, ``ConvFormerNeck``.

    Args:
        in_channels: channels of the backbone's maps (given by the segmentor).
        text_dim: width C of the class embeddings (given by the segmentor).
        num_classes: K (given by the segmentor).
        score_level: index of the backbone map replaced by ``X = [I', S]``.
        num_blocks: N stacked Conv-Former blocks (paper: 6; ablation 1..8).
        num_heads: attention heads everywhere.
        ffn_ratio: expansion of the Former's FFN (paper: 2).
        conv_expand_ratio: expansion of the inverted bottleneck.
        bridge: ``'cross_attention'`` (paper) or ``'inner_product'`` (ablation).
        use_embeddings: take ``I`` from the backbone's dense embedding when it returns
            one (CLIP backbones); otherwise ``I`` is the projected map of ``score_level``.
        dropout: dropout in the Former.
        norm_cfg: norm of the convolutions.
        score: the score map S: ``'inner_product'`` (Eq. 2, default) or ``'cosine'``
            (l2-normalised I' and T', DenseCLIP's score).
    """

    BRIDGES = {'cross_attention': 'softmax', 'inner_product': 'inner_product'}

    def __init__(self, in_channels: Sequence[int], text_dim: int, num_classes: int,
                 score_level: int = 3, num_blocks: int = 6, num_heads: int = 8,
                 ffn_ratio: int = 2, conv_expand_ratio: int = 2,
                 bridge: str = 'cross_attention', use_embeddings: bool = True,
                 dropout: float = 0.0, norm_cfg: dict | None = None,
                 score: str = 'inner_product',
                 init_cfg: dict | None = None) -> None:
        super().__init__(in_channels, text_dim, num_classes, init_cfg=init_cfg)
        if bridge not in self.BRIDGES:
            raise ConfigError(f'ConvFormerFusion bridge={bridge!r}: expected one of '
                              f'{", ".join(sorted(self.BRIDGES))}')
        if score not in ('inner_product', 'cosine'):
            raise ConfigError(f"ConvFormerFusion score={score!r}: expected 'inner_product' or "
                              "'cosine'")
        self.score = score
        if num_blocks < 1:
            raise ConfigError(f'ConvFormerFusion num_blocks={num_blocks}: expected at least 1')
        norm_cfg = norm_cfg or dict(type='BN')
        self.uses_backbone_embeddings = bool(use_embeddings)
        self.score_level, self.use_embeddings = score_level, use_embeddings
        self.num_blocks, self.bridge = num_blocks, bridge
        # The projection exists only when I is a backbone map (not a CLIP embedding).
        self.image_proj = ConvModule(self.in_channels[score_level], text_dim, 1,
                                     norm_cfg=norm_cfg, act_cfg=dict(type='ReLU')) \
            if not use_embeddings else None
        self.blocks = nn.ModuleList(
            ConvFormerBlock(text_dim, num_heads, ffn_ratio, conv_expand_ratio,
                            self.BRIDGES[bridge], dropout, norm_cfg)
            for _ in range(num_blocks))

    def neck_in_channels(self) -> list[int]:
        """Channels the neck receives: ``X = [I', S]`` (C + K) at ``score_level``."""
        channels = list(self.in_channels)
        channels[self.score_level] = self.text_dim + self.num_classes
        return channels

    def image_map(self, features: BackboneOutput) -> torch.Tensor:
        """``I``: the dense embedding, or the projected backbone map."""
        if self.use_embeddings:
            if features.embeddings is None:
                raise ConfigError('ConvFormerFusion(use_embeddings=True) needs a backbone '
                                  'that returns (global, dense) embeddings; set '
                                  'use_embeddings=False for any other backbone')
            return features.embeddings.dense
        return self.image_proj(features.maps[self.score_level])

    def forward(self, features: BackboneOutput, text: torch.Tensor,
                data_samples: list | None = None,
                state: TrainState | None = None) -> ConvFormerOutput:
        """``features``: the backbone's maps and embeddings; ``text`` (K, C)."""
        image = self.image_map(features)
        text = self.broadcast_text(text, image)
        t, i = text, image
        for block in self.blocks:
            t, i = block(t, i)
        text_out, image_out = t + text, i + image                      # Eq. 1
        if self.score == 'cosine':
            score = torch.einsum('bchw,bkc->bkhw', F.normalize(image_out, dim=1),
                                 F.normalize(text_out, dim=2))
        else:
            score = torch.einsum('bchw,bkc->bkhw', image_out, text_out)  # Eq. 2
        maps = self.attach_score(features.maps, self.score_level, score, image=image_out)
        return ConvFormerOutput(maps, score, text_out)
