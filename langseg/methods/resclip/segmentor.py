"""ResCLIP: training-free open-vocabulary segmentation with residual cross-correlation
self-attention (RCS) and semantic feedback refinement (SFR), on NACLIP's last block (Yang,
Deng, Li and Duan, "ResCLIP: Residual Attention for Training-free Dense Vision-language
Inference", CVPR 2025, arXiv:2411.15851; official code github.com/yvhangyang/ResCLIP,
which decides where the paper is silent; docs/methods/resclip.md lists each setting).

CLIP's blocks run unchanged up to the last one; the attention maps ``A^l = softmax(q k^T /
sqrt(d))`` of blocks ``rcs_layers`` (6-9 of ViT-B/16's 12, 0-based 5-8) are averaged per
head into ``A_rcs`` (Sec. 3.2). The last block is NACLIP's (Hajimiri et al., WACV 2025,
arXiv:2404.08181): k-k attention plus a Gaussian neighbourhood ``omega``, no residual, no
MLP; ResCLIP mixes it with ``A_rcs`` after the softmax and with the SFR prior ``S`` before
it (the official ``custom_attn``, attention strategy ``'resclip'``, arch ``'wo_resi'``)::

    A_s = softmax(tau_s ((1 - lambda_s) k k^T / sqrt(d) + lambda_s S / max S) + omega)
    A   = tau_r ((1 - lambda_r) A_s + lambda_r A_rcs)
    f   = normalise(ln_post(out_proj(A v)) proj)

``S`` comes from a first pass of the same last block without it (RCS only): its
segmentation of the window, refined by PAMR (10 iterations, dilations 8 and 16, guided by
the normalised window) and ``softmax(logit_scale s)``, gives each patch a label
(``feedback.py``). ``S / max S`` is rounded to fp16 and multiplied by ``lambda_s`` in
fp16, as the official code does on any device. The cosines with the text queries are
upsampled to the window; the windows, their average, the resize and the post-processing
are the shared open-vocabulary path (the class probabilities renormalised after the
synonym max, as the official output). ``slide_crop=0`` (VOC21, VOC20) scores the whole
image as one window.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...models.layers import pamr, residual_block_forward
from ...models.layers.pamr import PAMR_DEFAULT
from ...models.layers.self_similarity_attention import attend, packed_qkv
from ...models.layers.surgery_attention import (block_forward_with_attention,
                                                 gaussian_neighbourhood, self_scores)
from ...models.segmentors.clip_dense import CLIPDenseSegmentor
from ...registry import MODELS
from ...utils.errors import ConfigError
from .feedback import feedback_prior, patch_labels


def _pair(name: str, value: Sequence[float]) -> tuple[float, float]:
    if value is None or len(value) != 2:
        raise ConfigError(f'{name} {value!r}: expected (tau, lambda), e.g. (2.0, 0.3)')
    return float(value[0]), float(value[1])


@MODELS.register_module()
class ResCLIPSegmentor(CLIPDenseSegmentor):
    """ResCLIP on NACLIP (see the module docstring). Arguments as
    :class:`~langseg.models.segmentors.clip_dense.CLIPDenseSegmentor`, with ResCLIP's
    defaults (``resclip_segmentor.py:23-26``: logit scale 40, windows 224 / 112, no
    padding), plus:

    Args:
        slide_crop: window size; ``0`` scores each image whole (the base's rule, the
            official ``slide_crop=0`` of VOC21 and VOC20).
        gaussian_std: NACLIP's neighbourhood and the SFR row blur (5: ``test_all.sh``'s
            main setting).
        rcs_layers: 0-based blocks whose attention maps are averaged (5-8).
        rcs_weights: ``(tau_r, lambda_r)`` of the RCS mix.
        sfr_weights: ``(tau_s, lambda_s)`` of the SFR mix.
        temp_thd: first-segmentation probability below which a pixel's label is 0.
            (The official constructor has no defaults for these three, every benchmark
            config sets them; langseg's defaults are the ADE20K config's, for other
            vocabularies.)
        delete_same_entity: decay the prior of same-label pairs not joined by a straight
            same-label path (on in every official config).
        sfr_pamr: PAMR of the first segmentation: ``True`` (the official 10 iterations,
            dilations 8 and 16), ``dict(num_iter, dilations)`` or ``False`` (none).
        use_rcs, use_sfr: the two modules (ablations; the official constructor's flags
            are stored as one-element tuples, always true, so its runs use both).
    """

    def __init__(self, class_names: str | Sequence[str], clip: dict | None = None,
                 templates: str | Sequence[str] = 'openai_imagenet',
                 logit_scale: float = 40.0, prob_thd: float = 0.0,
                 slide_crop: int | Sequence[int] = 224,
                 slide_stride: int | Sequence[int] = 112, pad_multiple: int = 0,
                 gaussian_std: float = 5.0, rcs_layers: Sequence[int] = (5, 6, 7, 8),
                 rcs_weights: Sequence[float] = (2.0, 0.3),
                 sfr_weights: Sequence[float] = (2.1, 0.7), temp_thd: float = 0.25,
                 delete_same_entity: bool = True,
                 sfr_pamr: dict | bool = True,
                 use_rcs: bool = True, use_sfr: bool = True,
                 synonym_separator: str = ',', **kwargs) -> None:
        super().__init__(class_names, clip=clip, templates=templates,
                         logit_scale=logit_scale, prob_thd=prob_thd, slide_crop=slide_crop,
                         slide_stride=slide_stride, pad_multiple=pad_multiple,
                         synonym_separator=synonym_separator, **kwargs)
        if float(gaussian_std) <= 0:
            raise ConfigError(f'gaussian_std {gaussian_std}: expected a positive number')
        depth = len(self.visual.transformer.resblocks)
        self.rcs_layers = tuple(int(i) for i in rcs_layers)
        if use_rcs and (not self.rcs_layers
                        or not all(0 <= i < depth - 1 for i in self.rcs_layers)):
            raise ConfigError(f'rcs_layers {list(self.rcs_layers)}: expected blocks before '
                              f'the last of the {depth}-block CLIP tower (0-based)')
        self.gaussian_std = float(gaussian_std)
        self.rcs_weights = _pair('rcs_weights', rcs_weights)
        self.sfr_weights = _pair('sfr_weights', sfr_weights)
        self.temp_thd = float(temp_thd)
        self.delete_same_entity = bool(delete_same_entity)
        self.sfr_pamr = dict(PAMR_DEFAULT) if sfr_pamr is True else \
            (dict(sfr_pamr) if sfr_pamr else None)
        self.use_rcs, self.use_sfr = bool(use_rcs), bool(use_sfr)

    # ------------------------------------------------------------------- attention
    def mixed_attention(self, k: torch.Tensor, v: torch.Tensor, omega: torch.Tensor,
                        rcs: torch.Tensor | None, sfr: torch.Tensor | None) -> torch.Tensor:
        """The last block's attention output before ``out_proj`` (B, N, C) from its keys and
        values (B, heads, N, d), the neighbourhood ``omega`` (N, N), the RCS maps (B,
        heads, N, N) and the SFR prior (B, N, N) (either ``None``: left out)."""
        scores = self_scores(k)
        if sfr is not None:
            tau, lam = self.sfr_weights
            prior = (sfr / sfr.amax(dim=(-2, -1), keepdim=True)).half()
            scores = tau * ((1 - lam) * scores + (lam * prior)[:, None].to(scores.device))
        weights = (scores + omega.to(scores)).softmax(dim=-1)
        if rcs is not None:
            tau, lam = self.rcs_weights
            weights = tau * ((1 - lam) * weights + lam * rcs)
        return attend(weights.to(v.dtype), v)

    def feedback(self, rgb: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """The SFR prior (B, N, N) from the first pass's dense embeddings (B, E, h, w)."""
        text = F.normalize(self.text_encoder().float(), dim=-1)
        logits = F.interpolate(self.text_logits(feats, text), size=rgb.shape[-2:],
                               mode='bilinear', align_corners=False)
        if self.sfr_pamr is not None:
            logits = pamr(self.clip_normalise(rgb.float()), logits, **self.sfr_pamr)
        scale = 1.0 if self.logit_scale_post is None else self.logit_scale_post
        probs = torch.softmax(logits * scale, dim=1)
        patch = self.visual.conv1.kernel_size[0]
        labels = patch_labels(probs, patch, self.temp_thd)
        return feedback_prior(labels, self.gaussian_std, self.delete_same_entity)

    def dense_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB windows (B, 3, H, W) in [0, 255] -> l2-normalised embeddings (B, E, h, w)."""
        visual = self._towers(rgb.device)[0]
        tokens, grid = self.embed_tokens(visual, rgb)
        blocks = visual.transformer.resblocks
        maps = []
        for i, block in enumerate(blocks[:-1]):
            if self.use_rcs and i in self.rcs_layers:
                tokens, weights = block_forward_with_attention(block, tokens)
                maps.append(weights)
            else:
                tokens = residual_block_forward(block, tokens)
        rcs = torch.stack(maps).mean(dim=0) if maps else None
        last: nn.Module = blocks[-1]
        _, k, v = packed_qkv(last.attn, last.ln_1(tokens))
        omega = gaussian_neighbourhood(*grid, self.gaussian_std, device=k.device)
        sfr = None
        if self.use_sfr:
            first = self.mixed_attention(k, v, omega, rcs, None)
            sfr = self.feedback(rgb, self.post_attention_head(first[:, 1:], grid))
        out = self.mixed_attention(k, v, omega, rcs, sfr)
        return self.post_attention_head(out[:, 1:], grid)

    # -------------------------------------------------------------- post-processing
    def _classify(self, logits: torch.Tensor, prob_thd: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """The shared classification; the class probabilities (after the max over each
        class's synonyms) renormalised to sum to 1 per pixel, as the official
        ``postprocess_result`` returns them (the labels, taken before, are unchanged)."""
        probs, labels = super()._classify(logits, prob_thd)
        return probs / probs.sum(dim=0, keepdim=True), labels
