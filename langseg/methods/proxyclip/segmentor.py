"""ProxyCLIP: training-free open-vocabulary segmentation (Lan et al., "ProxyCLIP: Proxy
Attention Improves CLIP for Open-Vocabulary Segmentation", ECCV 2024, arXiv:2408.04883).

CLIP's last attention is replaced by the proxy attention of a vision foundation model
(``langseg.models.layers.proxy_attention``, Sec. 3.2). This module holds only ProxyCLIP's
window scores (:meth:`ProxyCLIPSegmentor.window_logits`: dense features, cosine with the
text queries, upsampled to the window); the windows, batching, merging and
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

from ...models.clip import (FrozenCLIPTextEncoder, build_visual_tower, embed_vit_tokens,
                           get_clip_config, is_resnet, load_pretrained_tower)
from ...models.layers import (AlwaysEvalMixin, block_value_path, grid_interpolation,
                              proxy_attention, residual_block_forward, resize_value_grid)
from ...models.segmentors.open_vocab import OpenVocabSegmentor, check_mmseg_build_args
from ...registry import MODELS
from ...utils.errors import ConfigError
from ...utils.precision import PRECISIONS, autocast_for, resolve_precision

ATTENTIONS = ('proxy', 'maskclip')


def clip_statistics(arch: str, pretrained: str | None, mean=None, std=None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The CLIP tower's input normalisation (1, 3, 1, 1) in [0, 255] units: ``mean`` /
    ``std`` when given, else open_clip's for the weights' tag (``get_pretrained_cfg``),
    else OpenAI's."""
    import open_clip
    cfg = {}
    if mean is None or std is None:
        try:
            cfg = open_clip.get_pretrained_cfg(arch, pretrained) if pretrained else {}
        except Exception:  # noqa: BLE001  - a local weights file has no tag
            cfg = {}
    values = []
    for given, key, default in ((mean, 'mean', OPENAI_DATASET_MEAN),
                                (std, 'std', OPENAI_DATASET_STD)):
        if given is None:
            given = [255 * v for v in (cfg.get(key) or default)]
        if len(given) != 3:
            raise ConfigError(f'clip.{key} {list(given)}: expected 3 values (RGB, 0-255)')
        values.append(torch.tensor([float(v) for v in given]).view(1, 3, 1, 1))
    return values[0], values[1]


def check_dense_clip_tower(visual: torch.nn.Module, arch) -> None:
    """Refuse an open_clip image tower whose last block cannot give dense tokens: ProxyCLIP
    (and MaskCLIP) take the value path of the last block's ``nn.MultiheadAttention`` and
    project every token with ``ln_post`` and ``proj``; towers built on timm (SigLIP-class,
    ``TimmModel``), with attentional pooling (CoCa) or without a projection cannot."""
    name = arch if isinstance(arch, str) else 'the CLIP architecture dict'
    blocks = getattr(getattr(visual, 'transformer', None), 'resblocks', None)
    if blocks is None:
        raise ConfigError(f'the image tower of {name} is a {type(visual).__name__}, not '
                          "open_clip's VisionTransformer: ProxyCLIP needs a ViT whose last "
                          'block is a multi-head self-attention (OpenAI, LAION, MetaCLIP, '
                          'DFN ViTs)')
    attn = getattr(blocks[-1], 'attn', None)
    if not isinstance(attn, torch.nn.MultiheadAttention) or attn.in_proj_weight is None:
        raise ConfigError(f'the last block of {name} has no packed multi-head attention '
                          '(in_proj_weight): ProxyCLIP replaces it by proxy attention and '
                          'needs its value projection')
    if getattr(visual, 'attn_pool', None) is not None:
        raise ConfigError(f'{name} uses attentional pooling: its output tokens are pooled '
                          'queries, not one per patch; ProxyCLIP needs a ViT with a plain '
                          'ln_post + projection head')


@MODELS.register_module()
class ProxyCLIPSegmentor(AlwaysEvalMixin, OpenVocabSegmentor):
    """Training-free CLIP + VFM segmentor (see module docstring).

    Args:
        class_names: list of names (``"cat; kitten"`` for synonyms, one line of background
            words for class 0) or a dataset key.
        clip: ``dict(arch='ViT-B-16', pretrained='openai')``: any open_clip ViT; an optional
            ``quick_gelu=True/False`` names the towers' activation (``None``: decided from
            the weights, then the architecture; ``langseg.models.clip.loading``); optional
            ``mean``/``std``: the CLIP tower's input normalisation in [0, 255] units
            (default: open_clip's for the weights' tag, else OpenAI's).
        vfm: VFM config (``TimmVFM``, ``ModuleLayerVFM``); unused with 'maskclip'.
        attention: ``'proxy'`` or ``'maskclip'``.
        beta, gamma: proxy-attention constants (1.2, 3.0).
        logit_scale: multiplies the cosines before the softmax (40).
        prob_thd: below this probability a pixel becomes class 0.
        slide_crop, slide_stride: window size and stride (int or (h, w)).
        pad_multiple: windows are padded to a multiple of this (56).
        window_batch_size: windows per forward; ``'auto'``: 16 on CUDA, 3 on CPU (on a
            CPU, larger window batches measured 3-6% slower: the batched attention maps of
            a B/8 VFM fall out of cache; see docs/benchmarks.md).
        templates: prompt templates (default: the 80 OpenAI ImageNet templates).
        feature_adjustment: subtract the CLIP-Surgery redundancy (Fang's report).
        precision: autocast on CUDA: 'fp16' (the official code's), 'bf16', 'fp32' or 'auto'
            (fp16).
        cpu_precision: on a CPU: 'fp32' (default, exact), 'bf16' or 'auto' (bf16 where the
            CPU has native bf16 instructions, ``langseg.utils.precision``).
        pos_interp: how CLIP's positional grid is resized to a window's grid (the
            official code's ``interpolate_pos_encoding``: DINO's scale-factor rule,
            ``'bicubic-offset'``; ``langseg.models.layers.pos_embed``).
        pamr, tile_rows, keep_probs: the shared post-processing
            (``langseg.models.segmentors.open_vocab``): optional PAMR, banded resize,
            whether the class probabilities are kept.
        official_vfm_input: give the VFM what the official code gives it: the CLIP-
            normalised window un-normalised with OpenAI's exact CLIP statistics
            (0.48145466, ...) / (0.26862954, ...), although it was normalised with the
            rounded ones of ``clip['mean']``/``clip['std']`` (122.771, ...) / (68.501,
            ...): DINO then sees the pixels shifted by up to 1.6e-5 of its normalised
            input. Off (default): the exact pixels.
        data_preprocessor: mmseg's ``SegDataPreProcessor`` with ``bgr_to_rgb`` and no
            ``mean``/``std`` (each tower normalises its input itself; a preprocessor that
            normalises is refused).
    """

    training_free = True
    always_eval = ('', )  # training-free: always in inference mode

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
        check_mmseg_build_args(type(self).__name__, train_cfg, pretrained,
                               'clip.pretrained and vfm')
        if data_preprocessor is not None and (data_preprocessor.get('mean') is not None
                                              or data_preprocessor.get('std') is not None):
            raise ConfigError(
                f'{type(self).__name__} normalises each tower\'s input itself: set the CLIP '
                "statistics as model.clip.mean / model.clip.std and leave "
                'model.data_preprocessor.mean / std unset (the preprocessor keeps '
                'bgr_to_rgb and padding)')
        super().__init__(slide_crop=slide_crop, slide_stride=slide_stride,
                         pad_multiple=pad_multiple, window_batch_size=window_batch_size,
                         logit_scale=logit_scale, prob_thd=prob_thd,
                         pamr=pamr, tile_rows=tile_rows, keep_probs=keep_probs,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if attention not in ATTENTIONS:
            raise ConfigError(f'attention must be one of {ATTENTIONS}, got {attention!r}')
        for value in (precision, cpu_precision):
            if value not in PRECISIONS:
                raise ConfigError(f'precision {value!r}: expected one of '
                                  f'{", ".join(PRECISIONS)}')
        clip = dict(arch='ViT-B-16', pretrained='openai') if clip is None else dict(clip)
        unknown = set(clip) - {'arch', 'pretrained', 'quick_gelu', 'mean', 'std'}
        if unknown:
            raise ConfigError(f'clip settings {sorted(unknown)} are unknown: expected arch, '
                              'pretrained, quick_gelu, mean, std')
        self.clip_arch, self.clip_pretrained = clip['arch'], clip.get('pretrained')
        mean, std = clip_statistics(self.clip_arch, self.clip_pretrained, clip.get('mean'),
                                    clip.get('std'))
        self.register_buffer('clip_mean', mean, persistent=False)
        self.register_buffer('clip_std', std, persistent=False)
        if is_resnet(get_clip_config(self.clip_arch)):
            raise ConfigError(f'ProxyCLIP needs a CLIP ViT, got {self.clip_arch!r}')
        self.visual = build_visual_tower(self.clip_arch, self.clip_pretrained,
                                         clip.get('quick_gelu'))
        check_dense_clip_tower(self.visual, self.clip_arch)
        self.visual.requires_grad_(False)
        self.text_encoder = FrozenCLIPTextEncoder(
            arch=self.clip_arch, pretrained=self.clip_pretrained,
            quick_gelu=clip.get('quick_gelu'), class_names=class_names,
            templates=templates, synonyms='none')
        self.attention = attention
        if attention == 'proxy' and vfm is None:
            raise ConfigError("attention='proxy' needs a vfm config, e.g. "
                              "dict(type='TimmVFM', name='dino-b8')")
        self.vfm = MODELS.build(vfm) if attention == 'proxy' else None
        self.beta, self.gamma = float(beta), float(gamma)
        self.feature_adjustment = bool(feature_adjustment)
        self.precision, self.cpu_precision = precision, cpu_precision
        self._bf16_towers: tuple | None = None
        self.pos_interp = grid_interpolation(pos_interp)
        self.official_vfm_input = bool(official_vfm_input)

    # ------------------------------------------------------------------------ setup
    @property
    def class_names(self) -> list[str]:
        return self.text_encoder.class_names

    def set_class_names(self, class_names: str | Sequence[str]) -> None:
        """Segment other words (the text cache is dropped only if they changed)."""
        self.text_encoder.set_class_names(class_names)

    def encode_vocabulary(self) -> None:
        self._ensure_weights()
        self.text_encoder()  # cached: encoded once per vocabulary

    def _ensure_weights(self) -> None:
        """Training-free: the pretrained towers are loaded at first use when neither
        ``init_weights`` (the runner, ``OpenVocabularySegmenter``) nor a checkpoint
        (``load_state_dict``) gave them, so ``mmseg.apis.init_model(config)`` without a
        checkpoint segments with CLIP's and the VFM's weights, not random ones."""
        if not self._is_init and self._names_pretrained_weights():
            self.init_weights()

    def _names_pretrained_weights(self) -> bool:
        """Whether the config names weights to load (random test towers name none: they
        keep the weights they were built with)."""
        vfm = self.vfm
        return bool(self.clip_pretrained or getattr(vfm, 'pretrained', None)
                    or getattr(vfm, 'checkpoint', None))

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._is_init = True   # the weights come from a checkpoint
        self._bf16_towers = None   # copies of the old weights

    def query_to_class(self) -> torch.Tensor:
        self.text_encoder()  # makes sure the mapping belongs to these words
        return self.text_encoder.query_to_class

    def init_weights(self) -> None:
        if self._is_init:   # already loaded (at first use, or from a checkpoint)
            return
        self._bf16_towers = None   # copies of the old weights
        super().init_weights()
        if self.clip_pretrained:
            load_pretrained_tower(self.visual, self.clip_arch, self.clip_pretrained, 'visual',
                                  'the CLIP image encoder')

    # ---------------------------------------------------------------- dense features
    def window_pad_value(self) -> torch.Tensor:
        """CLIP's mean colour: zero after CLIP's normalisation, as the official code pads
        its normalised windows."""
        return self.clip_mean.flatten()

    def clip_normalise(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB pixels (..., 3, H, W) in [0, 255] -> the CLIP tower's input."""
        return (rgb - self.clip_mean.to(rgb).view(3, 1, 1)) / \
            self.clip_std.to(rgb).view(3, 1, 1)

    def pamr_guide(self, image: torch.Tensor) -> torch.Tensor:
        """PAMR is guided by CLIP's normalised view of the image (PAMR's affinities are
        invariant to a per-channel scale and shift up to rounding; this view keeps the
        numbers of the PAMR configs, whose guide was the preprocessor's normalised
        image)."""
        return self.clip_normalise(image)

    def _official_vfm_pixels(self, clip_input: torch.Tensor) -> torch.Tensor:
        """What the official code gives DINO: the CLIP-normalised window un-normalised
        with OpenAI's exact CLIP statistics (its ``UnNormalize``), in [0, 255]."""
        mean = clip_input.new_tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
        std = clip_input.new_tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
        return (clip_input * std + mean) * 255

    def _towers(self, device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module | None]:
        """The image towers to run: the fp32 ones, or (bf16 on a CPU) bf16 copies of them
        made once and kept until the weights are loaded again (``init_weights``,
        ``load_state_dict``) or moved (autocast would cast every weight at every window, a
        fifth of a window's time). The towers are frozen: weights edited in place are not
        noticed."""
        if device.type != 'cpu' or resolve_precision(self.cpu_precision, device) != 'bf16':
            return self.visual, self.vfm
        params = list(self.visual.parameters()) + \
            (list(self.vfm.parameters()) if self.vfm is not None else [])
        key = tuple(p.data_ptr() for p in params)
        if self._bf16_towers is None or self._bf16_towers[0] != key:
            import copy
            visual = copy.deepcopy(self.visual).to(torch.bfloat16)
            vfm = copy.deepcopy(self.vfm).to(torch.bfloat16) if self.vfm is not None \
                else None
            self._bf16_towers = (key, visual, vfm)
        return self._bf16_towers[1], self._bf16_towers[2]

    def dense_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB windows (B, 3, H, W) in [0, 255] -> l2-normalised CLIP embeddings
        (B, E, h, w) on the VFM grid (proxy) or CLIP's grid (maskclip). Each tower
        normalises the pixels itself: CLIP here, the VFM in its forward."""
        visual, vfm = self._towers(rgb.device)
        clip_input = self.clip_normalise(rgb)
        if self.official_vfm_input:
            rgb = self._official_vfm_pixels(clip_input)
        x = clip_input.to(visual.conv1.weight.dtype)
        tokens, grid = embed_vit_tokens(visual, x, self.pos_interp)
        blocks = visual.transformer.resblocks
        for block in blocks[:-1]:
            tokens = residual_block_forward(block, tokens)
        last = blocks[-1]
        values = block_value_path(last, tokens)[:, 1:]            # B, h*w, width
        size = grid
        if self.attention == 'proxy':
            vfm_features = vfm(rgb.to(x.dtype))
            size = tuple(vfm_features.shape[-2:])
            values = proxy_attention(resize_value_grid(values, grid, size), vfm_features,
                                     self.beta, self.gamma)
        # the head (out_proj, ln_post, proj: a few matrix products per token) in the
        # towers' own precision, fp32 even on the bf16 CPU path (labels agree >= 99%)
        head = self.visual
        values = values.to(head.conv1.weight.dtype)
        out = head.transformer.resblocks[-1].attn.out_proj(values)
        out = head.ln_post(out)
        if head.proj is not None:
            out = out @ head.proj
        out = F.normalize(out.float(), dim=-1)
        return out.transpose(1, 2).reshape(out.shape[0], -1, *size)

    def _autocast(self, device: torch.device):
        if device.type == 'cpu':   # bf16 on a CPU runs bf16 copies of the towers instead
            return autocast_for('fp32', device)
        return autocast_for(self.precision, device)

    def window_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Cosine logits (B, Q, H, W) of windows ``x`` (padded to ``pad_multiple``),
        upsampled to the window size."""
        with self._autocast(x.device):
            feats = self.dense_features(x)                           # B, E, h, w
        text = F.normalize(self.text_encoder().float(), dim=-1)      # Q, E
        if self.feature_adjustment:
            logits = self._adjusted_logits(feats, text)
        else:
            logits = torch.einsum('behw,qe->bqhw', feats, text)
        return F.interpolate(logits, size=x.shape[-2:], mode='bilinear', align_corners=False)

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

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.dense_features(inputs)
