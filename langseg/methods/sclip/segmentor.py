"""SCLIP: training-free open-vocabulary segmentation with correlative self-attention
(Wang, Mei and Yuille, "SCLIP: Rethinking Self-Attention for Dense Vision-Language
Inference", ECCV 2024, arXiv:2312.01597; official code github.com/wangf3014/SCLIP, which
decides where the paper is silent; docs/methods/sclip.md lists each setting).

CLIP's blocks run unchanged up to the last one. There the query-key attention becomes the
correlative self-attention ``A = softmax(q q^T / sqrt(d)) + softmax(k k^T / sqrt(d))``
per head, and the block keeps its residual and its MLP::

    x = x + out_proj(A v),   x = x + mlp(ln_2(x)),   f = normalise(ln_post(x) proj)

(the official ``VisionTransformer.forward`` with ``csa=True``). The patch features' cosines
with the text queries are upsampled to the window (bilinear); the windows (224 / 112, not
padded), their average, the resize to the original image and the ``softmax(logit_scale
s)`` over all queries, the max over a class's synonyms and ``prob_thd`` are the shared
open-vocabulary path. SCLIP adds one post-processing step on VOC21, ``area_thd``,
the small-region filter the shared base applies (``CLIPDenseSegmentor.postprocess``,
``langseg.models.layers.area_filter``).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ...models.layers.self_similarity_attention import attend, packed_qkv, self_similarity
from ...models.segmentors.clip_dense import CLIPDenseSegmentor
from ...registry import MODELS


def correlative_self_attention(attn: nn.MultiheadAttention, x: torch.Tensor) -> torch.Tensor:
    """SCLIP's attention of the normalised tokens ``x`` (B, N, C), before ``out_proj``:
    ``(softmax(q q^T s) + softmax(k k^T s)) v`` per head, ``s = head_dim ** -0.5``."""
    q, k, v = packed_qkv(attn, x)
    return attend(self_similarity(q) + self_similarity(k), v)


@MODELS.register_module()
class SCLIPSegmentor(CLIPDenseSegmentor):
    """Training-free CLIP segmentor with correlative self-attention (see the module
    docstring). Arguments as :class:`~langseg.models.segmentors.clip_dense.
    CLIPDenseSegmentor`, with SCLIP's defaults (``clip_segmentor.py``: logit scale 40,
    windows 224 / 112, no padding, vocabulary files with ``', '`` between synonyms), plus:

    Args:
        area_thd: SCLIP's small-region filter (the official VOC21 setting 0.1; ``None``:
            off), applied by the shared base's post-processing.
    """

    def __init__(self, class_names: str | Sequence[str], clip: dict | None = None,
                 templates: str | Sequence[str] = 'openai_imagenet',
                 logit_scale: float = 40.0, prob_thd: float = 0.0,
                 area_thd: float | None = None,
                 slide_crop: int | Sequence[int] = 224,
                 slide_stride: int | Sequence[int] = 112, pad_multiple: int = 0,
                 synonym_separator: str = ',', **kwargs) -> None:
        super().__init__(class_names, clip=clip, templates=templates,
                         logit_scale=logit_scale, prob_thd=prob_thd, slide_crop=slide_crop,
                         slide_stride=slide_stride, pad_multiple=pad_multiple,
                         synonym_separator=synonym_separator, area_thd=area_thd,
                         **kwargs)

    def last_block(self, block: nn.Module, tokens: torch.Tensor, grid: tuple[int, int],
                   rgb: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Correlative self-attention with the block's residual and MLP kept."""
        x = tokens + block.ls_1(block.attn.out_proj(
            correlative_self_attention(block.attn, block.ln_1(tokens))))
        x = x + block.ls_2(block.mlp(block.ln_2(x)))
        return x[:, 1:], grid
