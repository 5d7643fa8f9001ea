"""ProxyCLIP: training-free open-vocabulary segmentation (Lan et al., ECCV 2024).

CLIP's last attention is replaced by the proxy attention of a vision foundation model
(``langseg.models.layers.proxy_attention``); everything else is inference plumbing,
implemented as reference/proxyclip.md describes, without the official code's limits:

* any batch size and image sizes (each image's valid region is windowed separately, the
  windows of all images are batched together), any crop shape;
* sliding windows with the official rule, each window zero-padded symmetrically to a
  multiple of ``pad_multiple`` (56), padding cut from the logits; window logits (raw
  cosines, upsampled to the window) are summed, divided by the count map and resized to the
  original image; no per-window cache clearing;
* one VFM and one CLIP forward per window batch; autocast (fp16 or bf16) on CUDA, fp32 on
  CPU;
* the proxy-attention mean per image and a guard against all-masked rows.

Variants in the same module: ``attention='maskclip'`` (value-only last block, no VFM: the
MaskCLIP baseline) and ``feature_adjustment=True`` (paper 004's CLIP-Surgery-style
redundancy subtraction).

Text: every synonym of every class ("cat; kitten") filled into the 80 OpenAI ImageNet
templates, averaged per synonym (cached, computed once); after aggregation
``softmax(logit_scale * cos)`` over all synonyms, each class takes the max over its
synonyms; pixels whose best probability is below ``prob_thd`` become class 0.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor

from ...registry import MODELS
from ...utils.errors import ConfigError, LangsegError
from ..clip import (FrozenCLIPTextEncoder, build_visual_tower, embed_vit_tokens,
                    get_clip_config, is_resnet, load_pretrained_tower)
from ..layers import block_value_path, grid_interpolation, proxy_attention, \
    residual_block_forward, resize_value_grid
from .sliding_window import window_starts

ATTENTIONS = ('proxy', 'maskclip')


def symmetric_padding(h: int, w: int, multiple: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) zero padding up to a multiple of ``multiple``."""
    ph, pw = (-h) % multiple, (-w) % multiple
    return pw // 2, pw - pw // 2, ph // 2, ph - ph // 2


@MODELS.register_module()
class ProxyCLIPSegmentor(BaseSegmentor):
    """Training-free CLIP + VFM segmentor (see module docstring).

    Args:
        class_names: list of names (``"cat; kitten"`` for synonyms, one line of background
            words for class 0) or a dataset key.
        clip: ``dict(arch='ViT-B-16', pretrained='openai')``: any open_clip ViT.
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
        feature_adjustment: subtract the CLIP-Surgery redundancy (paper 004).
        precision: autocast dtype on CUDA: 'fp16', 'bf16' or 'fp32'.
        pos_interp: how CLIP's positional grid is resized to a window's grid (the
            official code's ``interpolate_pos_encoding``: DINO's scale-factor rule,
            ``'bicubic-offset'``; ``langseg.models.layers.pos_embed``).
    """

    def __init__(self, class_names: str | Sequence[str], clip: dict | None = None,
                 vfm: dict | None = None, attention: str = 'proxy', beta: float = 1.2,
                 gamma: float = 3.0, logit_scale: float = 40.0, prob_thd: float = 0.0,
                 slide_crop: int | Sequence[int] = 336,
                 slide_stride: int | Sequence[int] = 112, pad_multiple: int = 56,
                 window_batch_size: int | str = 'auto', templates: str | Sequence[str] = 'openai_imagenet',
                 feature_adjustment: bool = False, precision: str = 'fp16',
                 pos_interp: str | dict = 'bicubic-offset',
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if attention not in ATTENTIONS:
            raise ConfigError(f'attention must be one of {ATTENTIONS}, got {attention!r}')
        if precision not in ('fp16', 'bf16', 'fp32'):
            raise ConfigError(f"precision must be 'fp16', 'bf16' or 'fp32', got {precision!r}")
        clip = dict(arch='ViT-B-16', pretrained='openai', **(clip or {})) if clip is None \
            else dict(clip)
        self.clip_arch, self.clip_pretrained = clip['arch'], clip.get('pretrained')
        if is_resnet(get_clip_config(self.clip_arch)):
            raise ConfigError(f'ProxyCLIP needs a CLIP ViT, got {self.clip_arch!r}')
        self.visual = build_visual_tower(self.clip_arch, self.clip_pretrained)
        self.visual.requires_grad_(False)
        self.text_encoder = FrozenCLIPTextEncoder(
            arch=self.clip_arch, pretrained=self.clip_pretrained, class_names=class_names,
            templates=templates, synonyms='none')
        self.attention = attention
        self.vfm = MODELS.build(vfm) if attention == 'proxy' else None
        if attention == 'proxy' and vfm is None:
            raise ConfigError("attention='proxy' needs a vfm config, e.g. "
                              "dict(type='TimmVFM', name='dino-b8')")
        self.beta, self.gamma = float(beta), float(gamma)
        self.logit_scale, self.prob_thd = float(logit_scale), float(prob_thd)
        self.slide_crop = tuple(slide_crop) if isinstance(slide_crop, (list, tuple)) \
            else (int(slide_crop), ) * 2
        self.slide_stride = tuple(slide_stride) if isinstance(slide_stride, (list, tuple)) \
            else (int(slide_stride), ) * 2
        if window_batch_size != 'auto' and int(window_batch_size) < 1:
            raise ConfigError(f"window_batch_size must be >= 1 or 'auto', got {window_batch_size}")
        self.pad_multiple = int(pad_multiple)
        self.window_batch_size = window_batch_size if window_batch_size == 'auto' \
            else int(window_batch_size)
        self.feature_adjustment = bool(feature_adjustment)
        self.precision = precision
        self.pos_interp = grid_interpolation(pos_interp)

    # ------------------------------------------------------------------------ setup
    @property
    def class_names(self) -> list[str]:
        return self.text_encoder.class_names

    @property
    def num_classes(self) -> int:
        return len(self.text_encoder.class_names)

    def set_class_names(self, class_names: str | Sequence[str]) -> None:
        """Segment other words (the text cache is dropped only if they changed)."""
        self.text_encoder.set_class_names(class_names)

    def init_weights(self) -> None:
        super().init_weights()
        if self.clip_pretrained:
            load_pretrained_tower(self.visual, self.clip_arch, self.clip_pretrained, 'visual',
                                  'the CLIP image encoder')

    def train(self, mode: bool = True) -> 'ProxyCLIPSegmentor':
        return super().train(False)  # training-free: always in inference mode

    # ---------------------------------------------------------------- dense features
    def _rgb(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the data preprocessor's normalisation: RGB in [0, 255]."""
        dp = self.data_preprocessor
        return x * dp.std.to(x) + dp.mean.to(x)

    def dense_features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised windows (B, 3, H, W) -> l2-normalised CLIP embeddings (B, E, h, w)
        on the VFM grid (proxy) or CLIP's grid (maskclip)."""
        visual = self.visual
        tokens, grid = embed_vit_tokens(visual, x, self.pos_interp)
        blocks = visual.transformer.resblocks
        for block in blocks[:-1]:
            tokens = residual_block_forward(block, tokens)
        last = blocks[-1]
        values = block_value_path(last, tokens)[:, 1:]            # B, h*w, width
        size = grid
        if self.attention == 'proxy':
            vfm_features = self.vfm(self._rgb(x))
            size = tuple(vfm_features.shape[-2:])
            values = proxy_attention(resize_value_grid(values, grid, size), vfm_features,
                                     self.beta, self.gamma)
        out = last.attn.out_proj(values)
        out = visual.ln_post(out)
        if visual.proj is not None:
            out = out @ visual.proj
        out = F.normalize(out.float(), dim=-1)
        return out.transpose(1, 2).reshape(out.shape[0], -1, *size)

    def window_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Cosine logits (B, Q, H, W) of windows ``x`` (padded to ``pad_multiple``),
        upsampled to the window size."""
        feats = self.dense_features(x)                               # B, E, h, w
        text = F.normalize(self.text_encoder().float(), dim=-1)      # Q, E
        if self.feature_adjustment:
            logits = self._adjusted_logits(feats, text)
        else:
            logits = torch.einsum('behw,qe->bqhw', feats, text)
        return F.interpolate(logits, size=x.shape[-2:], mode='bilinear', align_corners=False)

    @staticmethod
    def _adjusted_logits(feats: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """CLIP-Surgery feature surgery (Li et al. 2023), as paper 004 adapts it: the
        element-wise products f * t_q, weighted by w_q = p_q / mean(p) with p =
        softmax(2 * g . t) from the global feature g, minus their mean over classes, summed
        over channels: ``w_q s_nq - mean_q'(w_q' s_nq')``. ProxyCLIP drops the class token,
        so g is the normalised mean of the dense features (our reading)."""
        cos = torch.einsum('behw,qe->bqhw', feats, text)
        global_feat = F.normalize(feats.mean(dim=(2, 3)), dim=-1)   # B, E
        p = torch.softmax(2 * global_feat @ text.T, dim=-1)           # B, Q
        w = (p / p.mean(dim=-1, keepdim=True))[:, :, None, None]
        weighted = w * cos
        return weighted - weighted.mean(dim=1, keepdim=True)

    # ------------------------------------------------------------- sliding windows
    def _autocast(self, device: torch.device):
        if device.type == 'cuda' and self.precision != 'fp32':
            dtype = torch.float16 if self.precision == 'fp16' else torch.bfloat16
            return torch.autocast('cuda', dtype=dtype)
        return torch.autocast(device.type, enabled=False)

    def windows_of(self, h: int, w: int) -> list[tuple[int, int, int, int]]:
        """(y1, y2, x1, x2) of every window of an h x w image."""
        (ch, cw), (sh, sw) = self.slide_crop, self.slide_stride
        return [(y, min(y + ch, h), x, min(x + cw, w))
                for y in window_starts(h, ch, sh) for x in window_starts(w, cw, sw)]

    @torch.no_grad()
    def slide_logits(self, images: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Averaged window logits (Q, H_i, W_i) of each normalised image (3, H_i, W_i);
        the windows of all images are batched by shape."""
        jobs: dict[tuple[int, int], list] = {}
        for idx, img in enumerate(images):
            for box in self.windows_of(*img.shape[-2:]):
                jobs.setdefault((box[1] - box[0], box[3] - box[2]), []).append((idx, box))
        num_q = None
        sums: list[torch.Tensor | None] = [None] * len(images)
        counts = [img.new_zeros(1, *img.shape[-2:]) for img in images]
        device = images[0].device
        batch_size = self.window_batch_size
        if batch_size == 'auto':
            batch_size = 16 if device.type == 'cuda' else 3
        for (wh, ww), items in jobs.items():
            left, right, top, bottom = symmetric_padding(wh, ww, self.pad_multiple)
            for start in range(0, len(items), batch_size):
                chunk = items[start:start + batch_size]
                crops = torch.stack([images[i][:, y1:y2, x1:x2] for i, (y1, y2, x1, x2)
                                     in chunk])
                crops = F.pad(crops, (left, right, top, bottom))
                with self._autocast(device):
                    logits = self.window_logits(crops).float()
                logits = logits[:, :, top:top + wh, left:left + ww]
                num_q = logits.shape[1]
                for (i, (y1, y2, x1, x2)), lg in zip(chunk, logits):
                    if sums[i] is None:
                        sums[i] = images[i].new_zeros(num_q, *images[i].shape[-2:])
                    sums[i][:, y1:y2, x1:x2] += lg
                    counts[i][:, y1:y2, x1:x2] += 1
        return [s / c for s, c in zip(sums, counts)]

    def logits_to_prediction(self, logits: torch.Tensor, size: Sequence[int]
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Window-averaged logits (Q, h, w) -> class probabilities (K, H, W) at ``size``
        and the label map (H, W): resize, x logit_scale, softmax over queries, max over
        each class's synonyms, probability threshold."""
        logits = F.interpolate(logits[None], size=tuple(size), mode='bilinear',
                               align_corners=False)[0]
        probs = torch.softmax(logits * self.logit_scale, dim=0)
        self.text_encoder()  # cached: makes sure query_to_class belongs to these words
        owner = self.text_encoder.query_to_class.to(probs.device)
        num_classes = self.num_classes
        if probs.shape[0] != num_classes:
            merged = probs.new_full((num_classes, *probs.shape[1:]), -1.0)
            index = owner[:, None, None].expand_as(probs)
            probs = merged.scatter_reduce(0, index, probs, reduce='amax', include_self=True)
        best, labels = probs.max(dim=0)
        if self.prob_thd > 0:
            labels[best < self.prob_thd] = 0
        return probs, labels

    # ----------------------------------------------------------------- mmseg modes
    def predict(self, inputs: torch.Tensor, data_samples: list | None = None) -> list:
        """Segment a (padded) batch: every image's valid region is windowed on its own."""
        from mmseg.structures import SegDataSample
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(img_shape=inputs.shape[-2:],
                                                         ori_shape=inputs.shape[-2:]))
                            for _ in range(inputs.shape[0])]
        images = []
        for img, sample in zip(inputs, data_samples):
            h, w = sample.metainfo.get('img_shape', img.shape[-2:])[:2]
            images.append(img[:, :h, :w])
        self.text_encoder()  # encode the vocabulary once, outside the window loop
        for logits, sample in zip(self.slide_logits(images), data_samples):
            size = sample.metainfo.get('ori_shape', logits.shape[-2:])[:2]
            probs, labels = self.logits_to_prediction(logits, size)
            sample.set_data(dict(seg_logits=PixelData(data=probs),
                                 pred_sem_seg=PixelData(data=labels[None])))
        return data_samples

    def _forward(self, inputs: torch.Tensor, data_samples: list | None = None
                 ) -> torch.Tensor:
        """Whole-input forward (the graph the FLOPs tool traces): cosine logits of the
        input as one window, padded to ``pad_multiple``."""
        h, w = inputs.shape[-2:]
        left, right, top, bottom = symmetric_padding(h, w, self.pad_multiple)
        logits = self.window_logits(F.pad(inputs, (left, right, top, bottom)))
        return logits[:, :, top:top + h, left:left + w]

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: list) -> torch.Tensor:
        return self._forward(inputs)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.dense_features(inputs)

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        raise LangsegError('ProxyCLIP is training-free: evaluate it with tools/test.py CONFIG '
                           '(no checkpoint), or use tools/demo.py / tools/webdemo.py')
