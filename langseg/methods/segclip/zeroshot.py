"""SegCLIP's zero-shot segmentor (Luo et al., "SegCLIP: Patch Aggregation with Learnable
Centers for Open-Vocabulary Semantic Segmentation", ICML 2023, arXiv:2211.14813, Sec. 2.5
"Inference") on the shared open-vocabulary path: it only scores windows; it is never
trained itself (the base's ``loss`` refuses), its weights come from image-text
pretraining (:class:`~langseg.methods.segclip.pretrain.SegCLIPPretrainer`, which holds one
of these as ``segmentor`` and trains its encoder and text tower) or from the official
release (:mod:`langseg.methods.segclip.convert`). Where the paper is silent the official
code (github.com/ArrowLuo/SegCLIP) decides; docs/methods/segclip.md lists each choice.

Window scores (:meth:`SegCLIP.window_logits`): the image comes resized to short side 224
(the configs' pipeline, as the official evaluation; ``short_side`` resizes inside the
model instead) and is split into windows (224 / stride 224); per window the noise-free soft
assignment is upsampled to the window and its argmax gives each pixel one region;
``G = s cos(region, class)`` with ``s`` the learned clamped logit scale; the image token
keeps the top-k (5) classes, ``G`` masked to them and re-softmaxed, times ``softmax(G)``;
pixel scores are the scores of its region. With a background class (index 0, not
prompted), each window also gets a background channel, 1 where a pixel's best score is
strictly below that window's ``min(bg_thresh, max G)`` (:func:`background_indicator`);
windows are averaged, resized to the original image, and the label is the argmax. Windows
are encoded ``window_batch`` at a time. Class embeddings are computed once per class list
and weights (the text tower's cache is keyed by its parameters' versions, so the
pretrainer's optimiser steps invalidate it).

Checkpoint rule (:func:`zero_shot_state_dict`, applied wherever a checkpoint loads into
this model: ``load_state_dict`` / mmengine's ``load_checkpoint`` through a pre-hook, and
langseg's key check of ``tools/test.py``): a pretraining checkpoint's ``segmentor.*`` keys
load with the ``segmentor.`` prefix removed (``segmentor.backbone.*`` -> ``backbone.*``,
``segmentor.text_encoder.*`` -> ``text_encoder.*``, ``segmentor.logit_scale`` ->
``logit_scale``); its pretraining-only ``reconstruction.*`` keys (the MAE branch) are
dropped; a checkpoint with this model's own keys loads as it is.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...models.clip import CLIPClassTextEncoder, load_clip_state_dict, resolve_class_names
from ...models.segmentors.open_vocab import OpenVocabSegmentor, check_mmseg_build_args
from ...registry import MODELS
from ...utils.errors import ConfigError
from .encoder import SemanticGroupViT

#: The prefix of the zero-shot segmentor's keys in a pretraining checkpoint.
PRETRAIN_PREFIX = 'segmentor.'
#: Pretraining-only keys (the MAE reconstruction branch), dropped by the zero-shot model.
PRETRAIN_ONLY_PREFIXES = ('reconstruction.', )


def zero_shot_state_dict(state_dict: Mapping[str, torch.Tensor], prefix: str = ''
                         ) -> dict[str, torch.Tensor]:
    """The checkpoint rule (module docstring): ``state_dict`` as the zero-shot segmentor
    at ``prefix`` loads it. A pretraining checkpoint (some key starts with ``prefix +
    'segmentor.'``) gives its ``segmentor.*`` keys without that prefix and loses its
    ``reconstruction.*`` keys; keys outside ``prefix`` and any other key are kept, so an
    unknown key is still reported by the strict check."""
    nested = prefix + PRETRAIN_PREFIX
    dropped = tuple(prefix + p for p in PRETRAIN_ONLY_PREFIXES)
    if not any(k.startswith(nested) for k in state_dict):
        return {k: v for k, v in state_dict.items() if not k.startswith(dropped)}
    out = {}
    for key, value in state_dict.items():
        if key.startswith(nested):
            out[prefix + key[len(nested):]] = value
        elif not key.startswith(dropped):
            out[key] = value
    return out


def background_indicator(fg: torch.Tensor, region_scores: torch.Tensor,
                         bg_thresh: float | None) -> torch.Tensor:
    """The background channel of a batch of windows, as the official SegCLIP evaluation
    computes it: ``1`` where a pixel's best foreground score is *strictly* below
    ``min(bg_thresh, max G)``, else ``0``; ``max G`` is the window's largest region-class
    score (over every region, also those that own no pixel). ``fg`` (B, T, h, w) pixel
    scores, ``region_scores`` G (B, L, T); ``bg_thresh=None``: ``max G`` alone.
    Windows are then averaged with this channel in place and the label is the argmax, so a
    pixel whose score equals the threshold stays foreground. Returns (B, 1, h, w)."""
    best = region_scores.flatten(1).max(dim=1).values                          # B
    thresh = best if bg_thresh is None else best.clamp(max=float(bg_thresh))
    below = fg.max(dim=1, keepdim=True).values < thresh[:, None, None, None]
    return below.to(fg.dtype)


@MODELS.register_module()
class SegCLIP(OpenVocabSegmentor):
    """SegCLIP's zero-shot segmentor: the semantic-group ViT, the CLIP text tower and the
    learned logit scale, scored per window (module docstring). Loads pretraining
    checkpoints by the checkpoint rule (:func:`zero_shot_state_dict`).

    Args:
        backbone: ``SemanticGroupViT`` config (arch, pretrained, plug_layer, centers...).
        text: ``dict(arch=..., pretrained=..., quick_gelu=...)`` for the CLIP text tower
            (built trainable, token and positional embeddings frozen, so that
            :class:`~langseg.methods.segclip.pretrain.SegCLIPPretrainer` trains it through
            this model); defaults to the backbone's.
        max_logit_scale: the clamp of exp(s) (100).
        class_names: zero-shot classes (a list, a dataset key or a vocabulary file).
        background: whether class 0 is a background that is not prompted.
        bg_thresh: the background threshold (VOC 0.80, Context 0.25, COCO-Object 0.65).
        top_k: classes kept by the image-level filter (5).
        templates: prompt templates ('a photo of a {}.').
        similarity_scale: the factor of the region-class cosines, G = scale * cos;
            ``None`` (default): the model's learned ``exp(s)`` clamped to
            ``max_logit_scale``, as the official evaluation does; a number fixes it.
        slide_crop, slide_stride: zero-shot windows (224, 224).
        short_side: resize each image (bilinear) to this short side before the windows,
            scores resized back (None: as given; the zero-shot configs resize in the data
            pipeline instead, as the official evaluation does).
        window_batch_size: windows encoded together in one forward (16).
        pamr, tile_rows, keep_probs: the shared post-processing
            (``langseg.models.segmentors.open_vocab``): optional PAMR, banded resize,
            whether the class probabilities are kept.
    """

    def __init__(self, backbone: dict, text: dict | None = None,
                 max_logit_scale: float = 100.0,
                 class_names: str | Sequence[str] = (), background: bool = True,
                 bg_thresh: float | None = 0.8, top_k: int = 5,
                 templates: str | Sequence[str] = 'a photo of a {}.',
                 similarity_scale: float | None = None, slide_crop: int = 224,
                 slide_stride: int = 224, short_side: int | None = None,
                 window_batch_size: int = 16,
                 pamr: dict | None = None, tile_rows: int = 512,
                 keep_probs: bool = True, data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None, train_cfg: dict | None = None,
                 pretrained: str | None = None) -> None:
        check_mmseg_build_args(type(self).__name__, train_cfg, pretrained,
                               'backbone.pretrained (and text.pretrained)')
        super().__init__(slide_crop=slide_crop, slide_stride=slide_stride, pad_multiple=0,
                         window_batch_size=window_batch_size, short_side=short_side,
                         logit_scale=None, prob_thd=0.0,
                         pamr=pamr, tile_rows=tile_rows, keep_probs=keep_probs,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone: SemanticGroupViT = MODELS.build(
            dict(dict(type='SemanticGroupViT'), **backbone))
        text = dict(dict(arch=self.backbone.arch, pretrained=self.backbone.pretrained,
                         quick_gelu=self.backbone.quick_gelu), **(text or {}))
        self.text_arch, self.text_pretrained = text['arch'], text.get('pretrained')
        self.background, self.bg_thresh = bool(background), bg_thresh
        self._class_names = resolve_class_names(class_names) if class_names else []
        self.text_encoder = CLIPClassTextEncoder(
            arch=self.text_arch, pretrained=self.text_pretrained,
            quick_gelu=text.get('quick_gelu'), class_names=self._prompted(self._class_names),
            templates=templates, synonyms='mean', trainable=True,
            frozen_params=('token_embedding', 'positional_embedding'))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.max_log_scale = math.log(max_logit_scale)
        self.top_k = int(top_k)
        self.similarity_scale = similarity_scale
        self._register_load_state_dict_pre_hook(self._apply_checkpoint_rule)

    # ------------------------------------------------------------------ weights
    def init_weights(self) -> None:
        super().init_weights()          # the towers load their CLIP weights themselves
        if self.text_pretrained is not None:
            state, _ = load_clip_state_dict(self.text_arch, self.text_pretrained)
            if 'logit_scale' in state:
                with torch.no_grad():
                    self.logit_scale.copy_(state['logit_scale'].float().reshape(()))

    @staticmethod
    def remap_checkpoint(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The keys of ``state_dict`` as this model loads them (the checkpoint rule,
        :func:`zero_shot_state_dict`); langseg's checkpoint key check asks for it."""
        return zero_shot_state_dict(state_dict)

    @staticmethod
    def _apply_checkpoint_rule(state_dict: dict, prefix: str, *args) -> None:
        """``load_state_dict`` pre-hook: rewrite ``state_dict`` in place by the rule."""
        remapped = zero_shot_state_dict(state_dict, prefix)
        if remapped.keys() != state_dict.keys():
            state_dict.clear()
            state_dict.update(remapped)

    # --------------------------------------------------------------------- text
    def _prompted(self, names: Sequence[str]) -> list[str]:
        return list(names[1:]) if self.background else list(names)

    @property
    def class_names(self) -> list[str]:
        return self._class_names

    def set_class_names(self, class_names: str | Sequence[str]) -> None:
        self._class_names = resolve_class_names(class_names)
        self.text_encoder.set_class_names(self._prompted(self._class_names))

    def class_embeddings(self) -> torch.Tensor:
        """(T, D) embeddings of the prompted classes, computed once per class list and
        weights (the shared text path, ``langseg.models.clip.class_prompt_embeddings``)."""
        if not self.text_encoder.class_names:
            raise ConfigError('SegCLIP zero-shot needs class_names (a list, a dataset key '
                              'or a vocabulary file)')
        return self.text_encoder()

    def encode_vocabulary(self) -> None:
        self.class_embeddings()

    # --------------------------------------------------------------- zero-shot
    def similarity_logit_scale(self) -> float:
        """The factor of the region-class cosines: ``similarity_scale``, or the model's
        learned ``exp(s)`` clamped to ``max_logit_scale`` (the official code's)."""
        if self.similarity_scale is not None:
            return float(self.similarity_scale)
        return float(self.logit_scale.detach().exp().clamp(max=math.exp(self.max_log_scale)))

    def window_logits(self, windows: torch.Tensor) -> torch.Tensor:
        """Scores (B, [1 +] T, h, w) of a batch of windows (Sec. 2.5): the foreground class
        scores of each pixel's region and, with a background class, channel 0 the
        background indicator of :func:`background_indicator` (per window)."""
        text = F.normalize(self.class_embeddings(), dim=-1)
        out = self.backbone(windows)
        b, _, h, w = windows.shape
        gh, gw = out.grid
        soft = out.soft.reshape(b, -1, gh, gw)
        soft = F.interpolate(soft, size=(h, w), mode='bilinear', align_corners=False)
        region_of_pixel = F.one_hot(soft.argmax(1), soft.shape[1]).to(text.dtype)  # B,h,w,L
        emb = F.normalize(out.embeddings.to(text.dtype), dim=-1)
        scores = self.similarity_logit_scale() * emb[:, 1:] @ text.t()            # B, L, T
        probs = scores.softmax(-1)
        k = min(self.top_k, text.shape[0])
        top = (emb[:, 0] @ text.t()).topk(k, dim=-1).indices                     # B, k
        keep = torch.zeros_like(probs[:, 0]).scatter(1, top, 1.0) > 0              # B, T
        region_scores = scores.masked_fill(~keep[:, None], -float('inf')).softmax(-1) * probs
        fg = torch.einsum('bhwl,blt->bthw', region_of_pixel, region_scores)
        if not self.background:
            return fg
        return torch.cat([background_indicator(fg, region_scores, self.bg_thresh), fg], 1)
