"""ProxyCLIP: training-free open-vocabulary segmentation (Lan et al., "ProxyCLIP: Proxy
Attention Improves CLIP for Open-Vocabulary Segmentation", ECCV 2024, arXiv:2408.04883).

CLIP's last attention is replaced by the proxy attention of a vision foundation model
(``langseg.models.layers.proxy_attention``, Sec. 3.2). This module holds only ProxyCLIP's
last block (:meth:`ProxyCLIPSegmentor.last_block`: the value path mixed by the VFM's
affinities) on the shared dense-CLIP base (``langseg.models.segmentors.clip_dense``: CLIP
settings, towers, precision, the window scores: dense features, cosine with the text
queries, upsampled to the window); the windows, batching, merging and
post-processing are the shared open-vocabulary path
(``langseg.models.segmentors.open_vocab``), with ProxyCLIP's settings: windows padded to a
multiple of 56, ``softmax(40 s)`` over all queries, the max over each class's synonyms,
``prob_thd`` -> class 0. Where the paper is silent the official code
(github.com/mc-lan/ProxyCLIP) decides (docs/methods/proxyclip.md lists each fact and its
test), without the official code's limits: any batch and image size, any crop shape, the
proxy-attention mean per image and a guard against all-masked rows, no per-window cache
clearing; autocast (fp16 or bf16) on CUDA, fp32 on CPU.

Input: RGB pixels in [0, 255] (the data preprocessor converts BGR to RGB and pads, and
normalises nothing); each tower normalises them once, itself: CLIP with ``clip['mean']``
/ ``clip['std']`` (the configs: the official preprocessor's rounded OpenAI statistics),
the VFM with its weights' (ImageNet's for DINO). Windows are padded with CLIP's mean
colour, which is the official code's zero padding of the normalised window. The VFM so
sees the exact pixels, where the official code un-normalises with exact CLIP statistics
what its preprocessor normalised with rounded ones (``official_vfm_input=True`` does the
same).

Variants in the same module: ``attention='maskclip'`` (value-only last block, no VFM: the
MaskCLIP baseline, Zhou et al., "Extract Free Dense Labels from CLIP", ECCV 2022,
arXiv:2112.01071) and ``feature_adjustment=True`` (the CLIP-Surgery-style redundancy
subtraction of Fang, "Exploring Open-Vocabulary Semantic Segmentation with CLIP",
technical report, Renmin University of China).

Text: every synonym of every class ("cat; kitten") filled into the 80 OpenAI ImageNet
templates, averaged per synonym, computed once per vocabulary and cached.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

from ...models.layers import block_value_path, proxy_attention, resize_value_grid
from ...models.segmentors.clip_dense import CLIPDenseSegmentor
from ...registry import MODELS
from ...utils.errors import ConfigError

ATTENTIONS = ('proxy', 'maskclip')


@MODELS.register_module()
class ProxyCLIPSegmentor(CLIPDenseSegmentor):
    """Training-free CLIP + VFM segmentor (see module docstring). Arguments as
    :class:`~langseg.models.segmentors.clip_dense.CLIPDenseSegmentor` (class names, CLIP
    tower, templates, windows, precision, positional interpolation, post-processing, data
    preprocessor), with ProxyCLIP's defaults where they differ (logit scale 40, windows
    336 / 112 padded to a multiple of 56), plus:

    Args:
        vfm: VFM config (``TimmVFM``, ``ModuleLayerVFM``); unused with 'maskclip'.
        attention: ``'proxy'`` or ``'maskclip'``.
        beta, gamma: proxy-attention constants (1.2, 3.0).
        window_batch_size: windows per forward; ``'auto'``: 16 on CUDA, 3 on CPU (on a
            CPU, larger window batches measured 3-6% slower: the batched attention maps of
            a B/8 VFM fall out of cache; see docs/benchmarks.md).
        feature_adjustment: subtract the CLIP-Surgery redundancy (Fang's report).
        precision: autocast on CUDA: 'fp16' (the official code's), 'bf16', 'fp32' or 'auto'
            (fp16).
        pos_interp: how CLIP's positional grid is resized to a window's grid (the
            official code's ``interpolate_pos_encoding``: DINO's scale-factor rule,
            ``'bicubic-offset'``; ``langseg.models.layers.pos_embed``).
        official_vfm_input: give the VFM what the official code gives it: the CLIP-
            normalised window un-normalised with OpenAI's exact CLIP statistics
            (0.48145466, ...) / (0.26862954, ...), although it was normalised with the
            rounded ones of ``clip['mean']``/``clip['std']`` (122.771, ...) / (68.501,
            ...): DINO then sees the pixels shifted by up to 1.6e-5 of its normalised
            input. Off (default): the exact pixels.
    """

    weights_from = 'clip.pretrained and vfm'

    def __init__(self, class_names: str | Sequence[str], clip: dict | None = None,
                 vfm: dict | None = None, attention: str = 'proxy', beta: float = 1.2,
                 gamma: float = 3.0, logit_scale: float = 40.0, prob_thd: float = 0.0,
                 slide_crop: int | Sequence[int] = 336,
                 slide_stride: int | Sequence[int] = 112, pad_multiple: int = 56,
                 window_batch_size: int | str = 'auto',
                 templates: str | Sequence[str] = 'openai_imagenet',
                 feature_adjustment: bool = False, precision: str = 'fp16',
                 cpu_precision: str = 'fp32',
                 pos_interp: str | dict = 'bicubic-offset',
                 pamr: dict | None = None, tile_rows: int = 512,
                 keep_probs: bool = True, official_vfm_input: bool = False,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None,
                 train_cfg: dict | None = None, pretrained: str | None = None) -> None:
        if attention not in ATTENTIONS:
            raise ConfigError(f'attention must be one of {ATTENTIONS}, got {attention!r}')
        super().__init__(class_names, clip=clip, templates=templates,
                         logit_scale=logit_scale, prob_thd=prob_thd, slide_crop=slide_crop,
                         slide_stride=slide_stride, pad_multiple=pad_multiple,
                         window_batch_size=window_batch_size, precision=precision,
                         cpu_precision=cpu_precision, pos_interp=pos_interp, pamr=pamr,
                         tile_rows=tile_rows, keep_probs=keep_probs,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         train_cfg=train_cfg, pretrained=pretrained)
        self.attention = attention
        if attention == 'proxy' and vfm is None:
            raise ConfigError("attention='proxy' needs a vfm config, e.g. "
                              "dict(type='TimmVFM', name='dino-b8')")
        self.vfm = MODELS.build(vfm) if attention == 'proxy' else None
        self.beta, self.gamma = float(beta), float(gamma)
        self.feature_adjustment = bool(feature_adjustment)
        self.official_vfm_input = bool(official_vfm_input)

    def extra_towers(self) -> tuple[torch.nn.Module | None, ...]:
        """The VFM (``None`` with ``attention='maskclip'``)."""
        return (self.vfm, )

    # ---------------------------------------------------------------- dense features
    def _official_vfm_pixels(self, clip_input: torch.Tensor) -> torch.Tensor:
        """What the official code gives DINO: the CLIP-normalised window un-normalised
        with OpenAI's exact CLIP statistics (its ``UnNormalize``), in [0, 255]."""
        mean = clip_input.new_tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
        std = clip_input.new_tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
        return (clip_input * std + mean) * 255

    def last_block(self, block: torch.nn.Module, tokens: torch.Tensor,
                   grid: tuple[int, int], rgb: torch.Tensor
                   ) -> tuple[torch.Tensor, tuple[int, int]]:
        """The value path of the last block (MaskCLIP), mixed by the VFM's proxy
        attention (ProxyCLIP Sec. 3.2) on the VFM's grid, through ``out_proj`` (no
        residual, no MLP). The VFM normalises the pixels itself."""
        values = block_value_path(block, tokens)[:, 1:]               # B, h*w, width
        size = grid
        if self.attention == 'proxy':
            vfm = self._towers(rgb.device)[1]
            if self.official_vfm_input:
                rgb = self._official_vfm_pixels(self.clip_normalise(rgb))
            vfm_features = vfm(rgb.to(block.attn.in_proj_weight.dtype))
            size = tuple(vfm_features.shape[-2:])
            values = proxy_attention(resize_value_grid(values, grid, size), vfm_features,
                                     self.beta, self.gamma)
        return self.out_proj(values), size

    def text_logits(self, feats: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        if self.feature_adjustment:
            return self._adjusted_logits(feats, text)
        return super().text_logits(feats, text)

    @staticmethod
    def _adjusted_logits(feats: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """CLIP-Surgery feature surgery (Li et al., "CLIP Surgery for Better
        Explainability with Enhancement in Open-Vocabulary Tasks", arXiv:2304.05653), as
        Fang's report adapts it: the element-wise products f * t_q, weighted by
        w_q = p_q / mean(p) with p = softmax(2 * g . t) from the global feature g, minus
        their mean over classes, summed over channels: ``w_q s_nq - mean_q'(w_q' s_nq')``.
        ProxyCLIP drops the class token, so g is the normalised mean of the dense features
        (our reading)."""
        cos = torch.einsum('behw,qe->bqhw', feats, text)
        global_feat = F.normalize(feats.mean(dim=(2, 3)), dim=-1)   # B, E
        p = torch.softmax(2 * global_feat @ text.T, dim=-1)           # B, Q
        w = (p / p.mean(dim=-1, keepdim=True))[:, :, None, None]
        weighted = w * cos
        return weighted - weighted.mean(dim=1, keepdim=True)
