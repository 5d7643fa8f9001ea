"""ClearCLIP: training-free open-vocabulary segmentation (Lan, Chen, Ke, Wang, Feng and
Zhang, "ClearCLIP: Decomposing CLIP Representations for Dense Vision-Language
Inference", ECCV 2024, arXiv:2407.12442; official code github.com/mc-lan/ClearCLIP, which
decides where the paper is silent; docs/methods/clearclip.md lists each setting).

The paper finds the residual connection of CLIP's last block the main source of noise in
its dense features and changes three things in that block only: no residual, self-self
(query-query) attention, no feed-forward network::

    f = normalise(ln_post(out_proj(softmax(q q^T / sqrt(d)) v)) proj)

(the official ``VisionTransformer.forward`` with ``model_type='ClearCLIP'``,
``ignore_residual=True``). Windows (448 / 224) are padded symmetrically to a multiple of
the patch size with CLIP's mean colour (the official zero padding of the normalised
window) and the padding is cut from the upsampled scores; everything after the window
scores is the shared open-vocabulary path (``softmax(50 s)``, synonym max,
``prob_thd``).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ...models.layers.self_similarity_attention import attend, packed_qkv, self_similarity
from ...models.segmentors.clip_dense import CLIPDenseSegmentor
from ...registry import MODELS
from ...utils.errors import ConfigError

ATTENTIONS = ('q-q', 'q-k')


@MODELS.register_module()
class ClearCLIPSegmentor(CLIPDenseSegmentor):
    """Training-free CLIP segmentor with ClearCLIP's last block (see the module
    docstring). Arguments as :class:`~langseg.models.segmentors.clip_dense.
    CLIPDenseSegmentor`, with ClearCLIP's defaults (``clearclip_segmentor.py``: logit
    scale 50, windows 448 / 224 padded to a multiple of the patch size 16, vocabulary
    files with ``','`` between synonyms), plus:

    Args:
        attention: ``'q-q'`` (ClearCLIP's self-self attention) or ``'q-k'`` (CLIP's own
            attention: the official code's ``model_type='vanilla'``).
        residual: keep the last block's residual and feed-forward network (the official
            ``ignore_residual=False``); ClearCLIP drops both (``False``).
    """

    def __init__(self, class_names: str | Sequence[str], clip: dict | None = None,
                 templates: str | Sequence[str] = 'openai_imagenet',
                 logit_scale: float = 50.0, prob_thd: float = 0.0,
                 attention: str = 'q-q', residual: bool = False,
                 slide_crop: int | Sequence[int] = 448,
                 slide_stride: int | Sequence[int] = 224, pad_multiple: int = 16,
                 synonym_separator: str = ',', **kwargs) -> None:
        if attention not in ATTENTIONS:
            raise ConfigError(f'attention must be one of {ATTENTIONS}, got {attention!r}')
        super().__init__(class_names, clip=clip, templates=templates,
                         logit_scale=logit_scale, prob_thd=prob_thd, slide_crop=slide_crop,
                         slide_stride=slide_stride, pad_multiple=pad_multiple,
                         synonym_separator=synonym_separator, **kwargs)
        self.attention, self.residual = attention, bool(residual)

    def last_block(self, block: nn.Module, tokens: torch.Tensor, grid: tuple[int, int],
                   rgb: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """q-q attention through ``out_proj``; no residual, no MLP (unless
        ``residual``)."""
        q, k, v = packed_qkv(block.attn, block.ln_1(tokens))
        if self.attention == 'q-q':
            weights = self_similarity(q)
        else:
            weights = (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(dim=-1)
        out = block.attn.out_proj(attend(weights, v))
        if self.residual:
            out = tokens + block.ls_1(out)
            out = out + block.ls_2(block.mlp(block.ln_2(out)))
        return out[:, 1:], grid
