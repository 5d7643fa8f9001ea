"""DenseCLIP's language-guided fusion: context decoder, gamma update, pixel-text scores.

Rao et al., "DenseCLIP: Language-Guided Dense Prediction with Context-Aware Prompting",
CVPR 2022, arXiv:2112.01518; where the paper is silent, the official code
(github.com/raoyongming/DenseCLIP, ``segmentation/denseclip``) decides:

* visual context ``v = [global; dense_1 .. dense_HW]`` (B, 1+HW, C) from the backbone's
  attention pool (CLIP ResNet / ViT); a backbone without one gets a randomly initialised
  :class:`~langseg.models.layers.DenseAttentionPool2d` on its last stage (the "any
  backbone" rows: ImageNet ResNet, Swin, lightweight CNNs);
* vision-to-language prompting (Sec. 3.3, Eq. 6): ``t <- t + gamma * Dec(t, v)``, a
  3-layer pre-norm transformer decoder (width 256, 4 heads, dropout 0.1, no qkv bias;
  dropout after each attention, inside the MLP and after it, as the official code)
  whose queries are the K class embeddings and whose memory is ``v``; ``gamma`` is a
  learnable vector initialised to 1e-4;
* pixel-text score map (Sec. 3.2, Eq. 4): ``S = l2norm(dense) . l2norm(t)^T``
  (B, K, H, W), concatenated to the backbone map of ``score_level`` (index 3 for ResNets,
  2 for the ViT) before the FPN.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from ...models.backbones.output import BackboneOutput, Embeddings
from ...models.layers import DenseAttentionPool2d, MultiHeadAttention
from ...models.segmentors.fusion_contract import BaseFusion, FusionOutput, TrainState
from ...registry import MODELS
from ...utils.errors import ConfigError


@dataclass
class DenseCLIPOutput(FusionOutput):
    """:class:`DenseCLIPFusion`'s output: ``maps`` (the score map concatenated at
    ``score_level``), ``score`` S (B, K, H, W) of Eq. 4, and ``text``: the prompted class
    embeddings ``t + gamma * Dec(t, v)`` of Eq. 6 (B, K, C)."""

    text: torch.Tensor | None = None


class ContextDecoderLayer(nn.Module):
    """Pre-norm decoder layer: self-attention, cross-attention to the memory, MLP (x4).

    Dropout sits where the official DenseCLIP layer has it: after each attention's output
    projection, inside the MLP after the GELU, and once more on the MLP's output
    (``x + dropout(mlp(norm3(x)))``). The memory is not re-normalised inside the layer."""

    def __init__(self, width: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.self_attn = MultiHeadAttention(width, num_heads, qkv_bias=False,
                                            proj_drop=dropout)
        self.norm2 = nn.LayerNorm(width)
        self.cross_attn = MultiHeadAttention(width, num_heads, qkv_bias=False,
                                             proj_drop=dropout)
        self.norm3 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, width * 4), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(width * 4, width))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.self_attn(y, y, y)
        x = x + self.cross_attn(self.norm2(x), memory, memory)
        return x + self.dropout(self.mlp(self.norm3(x)))


@MODELS.register_module()
class ContextDecoder(BaseModule):
    """DenseCLIP's context decoder: ``Dec(t, v)`` of Eq. 6 (see module docstring).

    Args:
        visual_dim: width of the text embeddings and the visual context (C).
        width: decoder width (256).
        num_heads: decoder heads (4).
        num_layers: decoder layers (3).
        dropout: dropout in attention outputs and MLP (0.1).
    """

    def __init__(self, visual_dim: int, width: int = 256, num_heads: int = 4,
                 num_layers: int = 3, dropout: float = 0.1,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.memory_proj = nn.Sequential(nn.LayerNorm(visual_dim),
                                         nn.Linear(visual_dim, width), nn.LayerNorm(width))
        self.text_proj = nn.Sequential(nn.LayerNorm(visual_dim), nn.Linear(visual_dim, width))
        self.layers = nn.ModuleList(
            ContextDecoderLayer(width, num_heads, dropout) for _ in range(num_layers))
        self.out_proj = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, visual_dim))
        self.apply(self._init_linear)

    @staticmethod
    def _init_linear(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, text: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        """``text`` (B, K, C), ``visual`` (B, N, C) -> update (B, K, C)."""
        memory = self.memory_proj(visual)
        x = self.text_proj(text)
        for layer in self.layers:
            x = layer(x, memory)
        return self.out_proj(x)


@MODELS.register_module()
class DenseCLIPFusion(BaseFusion):
    """Context decoder + score map: the DenseCLIP part between backbone and FPN (a
    :class:`~langseg.models.segmentors.fusion_contract.BaseFusion`).

    Args:
        in_channels: channels of the backbone's maps (given by the segmentor).
        text_dim: width of the class embeddings (given by the segmentor).
        num_classes: K (given by the segmentor).
        score_level: index of the map the score map is concatenated to.
        context_decoder: config of the :class:`ContextDecoder` (``visual_dim`` is filled).
        gamma_init: initial value of the learnable ``gamma`` vector (1e-4).
        pool: settings of the random attention pool built when the backbone returns no
            (global, dense) embeddings: ``dict(num_heads=..., spacial_dim=...)``;
            ``spacial_dim`` is the side of the stored positional grid (input 512 / 32).
    """

    def __init__(self, in_channels: Sequence[int], text_dim: int, num_classes: int,
                 score_level: int = 3, context_decoder: dict | None = None,
                 gamma_init: float = 1e-4, pool: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(in_channels, text_dim, num_classes, init_cfg=init_cfg)
        self.score_level = score_level
        decoder_cfg = dict(type='ContextDecoder', **(context_decoder or {}))
        decoder_cfg['visual_dim'] = text_dim
        self.context_decoder = MODELS.build(decoder_cfg)
        self.gamma = nn.Parameter(torch.full((text_dim,), gamma_init))
        self.pool = None
        self.uses_backbone_embeddings = pool is None
        if pool is not None:
            pool = dict(pool)
            self.pool = DenseAttentionPool2d(
                spacial_dim=pool.pop('spacial_dim', 16),  # a 512 input at stride 32
                embed_dim=self.in_channels[-1], num_heads=pool.pop('num_heads', 8),
                output_dim=text_dim)
            if pool:
                raise ConfigError(f'unknown attention pool settings {sorted(pool)}: expected '
                                  'num_heads, spacial_dim')

    def neck_in_channels(self) -> list[int]:
        """Channels the neck receives: the backbone's plus K at ``score_level``."""
        channels = list(self.in_channels)
        channels[self.score_level] += self.num_classes
        return channels

    def embeddings(self, features: BackboneOutput) -> Embeddings:
        """(global (B, C), dense (B, C, H, W)) from the backbone or the random pool."""
        if self.pool is not None:
            return Embeddings(*self.pool(features.maps[-1]))
        if features.embeddings is None:
            raise ConfigError('the backbone returns no (global, dense) embeddings: set '
                              'with_embeddings=True on a CLIP backbone, or give the fusion '
                              'a pool=dict(num_heads=...) for any other backbone')
        return features.embeddings

    def forward(self, features: BackboneOutput, text: torch.Tensor,
                data_samples: list | None = None,
                state: TrainState | None = None) -> DenseCLIPOutput:
        """``features``: the backbone's maps and embeddings; ``text`` (K, C)."""
        global_emb, dense = self.embeddings(features)
        b, c, h, w = dense.shape
        visual = torch.cat([global_emb.reshape(b, 1, c), dense.reshape(b, c, h * w)
                            .transpose(1, 2)], dim=1)                  # B, 1+HW, C
        text = self.broadcast_text(text, dense)                        # B, K, C
        text = text + self.gamma * self.context_decoder(text, visual)
        score = torch.einsum('bchw,bkc->bkhw', F.normalize(dense, dim=1),
                             F.normalize(text, dim=2))
        maps = self.attach_score(features.maps, self.score_level, score)
        return DenseCLIPOutput(maps, score, text)
