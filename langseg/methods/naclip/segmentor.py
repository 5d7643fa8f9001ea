"""NACLIP: training-free open-vocabulary segmentation with neighbourhood attention
(Hajimiri, Ben Ayed and Dolz, "Pay Attention to Your Neighbours: Training-Free
Open-Vocabulary Semantic Segmentation", WACV 2025, arXiv:2404.08181; official code
github.com/sinahmr/NACLIP, which decides where the paper is silent; docs/methods/naclip.md
lists each setting).

In CLIP's last block the attention of every patch becomes key-key similarity plus a
Gaussian kernel over the patch grid centred on the patch itself (its neighbourhood), and
the block is reduced (``arch='reduced'``: no residual, no feed-forward network)::

    A = softmax(k k^T / sqrt(d) + G)
    G[(a, b), (c, e)] = exp(-((a - c)^2 + (b - e)^2) / (2 std^2))     (patch grid units)
    f = normalise(ln_post(out_proj(A v)) proj)

(the class token's row and column of ``G`` are zero; ``std`` 5 patches). The windows
(224 / 112, not padded; VOC21 and VOC20 whole images), their average, the resize to the
original image, PAMR (10 iterations, dilations 8 and 16: on by default in the official
code), ``softmax(40 s)`` over all queries, the synonym max and ``prob_thd`` are the
shared open-vocabulary path; the class probabilities are renormalised after the synonym
max (:meth:`NACLIPSegmentor._classify`), as the official code returns them.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ...models.layers.self_similarity_attention import attend, packed_qkv, self_similarity
from ...models.layers.surgery_attention import gaussian_neighbourhood
from ...models.segmentors.clip_dense import CLIPDenseSegmentor
from ...registry import MODELS
from ...utils.errors import ConfigError

ARCHS = ('reduced', 'vanilla')
ATTENTIONS = ('naclip', 'kk', 'csa', 'vanilla')


@MODELS.register_module()
class NACLIPSegmentor(CLIPDenseSegmentor):
    """Training-free CLIP segmentor with neighbourhood attention (see the module
    docstring). Arguments as :class:`~langseg.models.segmentors.clip_dense.
    CLIPDenseSegmentor`, with NACLIP's defaults (``naclip.py``: logit scale 40, windows
    224 / 112, no padding, PAMR 10 x (8, 16), vocabulary files with ``', '`` between
    synonyms), plus:

    Args:
        arch: ``'reduced'`` (NACLIP: the last block without residual and feed-forward
            network) or ``'vanilla'`` (both kept).
        attention: ``'naclip'`` (key-key plus the Gaussian neighbourhood), ``'kk'``
            (key-key only), ``'csa'`` (SCLIP's q-q + k-k; with ``arch='vanilla'`` only, as
            the official code requires) or ``'vanilla'`` (CLIP's q-k).
        gaussian_std: the neighbourhood's standard deviation in patches (5).
        pamr: PAMR settings; ``True`` (default): NACLIP's 10 iterations, dilations (8, 16)
            (``langseg.models.layers.pamr.PAMR_DEFAULT``); ``None``: off.
    """

    def __init__(self, class_names: str | Sequence[str], clip: dict | None = None,
                 templates: str | Sequence[str] = 'openai_imagenet',
                 logit_scale: float = 40.0, prob_thd: float = 0.0,
                 arch: str = 'reduced', attention: str = 'naclip',
                 gaussian_std: float = 5.0,
                 slide_crop: int | Sequence[int] = 224,
                 slide_stride: int | Sequence[int] = 112, pad_multiple: int = 0,
                 pamr: dict | bool | None = True,
                 synonym_separator: str = ',', **kwargs) -> None:
        if arch not in ARCHS:
            raise ConfigError(f'arch must be one of {ARCHS}, got {arch!r}')
        if attention not in ATTENTIONS:
            raise ConfigError(f'attention must be one of {ATTENTIONS}, got {attention!r}')
        if attention == 'csa' and arch != 'vanilla':
            raise ConfigError("attention='csa' (SCLIP's) needs arch='vanilla', as in the "
                              'official code')
        if attention == 'naclip' and not float(gaussian_std) > 0:
            raise ConfigError(f'gaussian_std {gaussian_std}: expected a positive number of '
                              'patches')
        super().__init__(class_names, clip=clip, templates=templates,
                         logit_scale=logit_scale, prob_thd=prob_thd, slide_crop=slide_crop,
                         slide_stride=slide_stride, pad_multiple=pad_multiple, pamr=pamr,
                         synonym_separator=synonym_separator, **kwargs)
        self.arch, self.attention = arch, attention
        self.gaussian_std = float(gaussian_std)

    def last_block(self, block: nn.Module, tokens: torch.Tensor, grid: tuple[int, int],
                   rgb: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Neighbourhood attention through ``out_proj``; no residual, no MLP with
        ``arch='reduced'``."""
        q, k, v = packed_qkv(block.attn, block.ln_1(tokens))
        if self.attention == 'naclip':
            bias = gaussian_neighbourhood(*grid, self.gaussian_std, device=k.device)
            weights = self_similarity(k, bias)
        elif self.attention == 'kk':
            weights = self_similarity(k)
        elif self.attention == 'csa':
            weights = self_similarity(q) + self_similarity(k)
        else:
            weights = (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(dim=-1)
        out = block.attn.out_proj(attend(weights, v))
        if self.arch == 'vanilla':
            out = tokens + block.ls_1(out)
            out = out + block.ls_2(block.mlp(block.ln_2(out)))
        return out[:, 1:], grid

    def _classify(self, logits: torch.Tensor, prob_thd: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """The shared classification; the class probabilities (after the max over each
        class's synonyms) renormalised to sum to 1 per pixel, as the official
        ``postprocess_result`` returns them (the labels are unchanged)."""
        probs, labels = super()._classify(logits, prob_thd)
        return probs / probs.sum(dim=0, keepdim=True), labels
