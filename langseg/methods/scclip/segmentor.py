"""SC-CLIP: self-calibrated CLIP for training-free open-vocabulary segmentation (Bai, Liu,
Han, Zhang and Tang, "Self-Calibrated CLIP for Training-Free Open-Vocabulary
Segmentation", arXiv:2411.15869; official code github.com/SuleBai/SC-CLIP, which decides
where the paper is silent; docs/methods/scclip.md lists each setting).

CLIP's blocks run unchanged up to the penultimate one, keeping every block's output
``F^l`` (1-based block l is ``F^l``, the official ``feats_list[l - 1]``). Then (the
official ``VisionTransformer.forward``; ``calibration.py`` holds the pieces):

1. anomaly resolution (Sec. 3.2): the penultimate block's anomalous patch tokens (a
   local-outlier score, top 5 %) are replaced by the mean of their normal 3 x 3
   neighbours, giving ``X`` (patch tokens only; the class token ``c`` is kept aside);
2. ``X`` is aggregated with the thresholded (beta 0.4) cosine similarities of
   ``F^9`` (``pre_adjust_idx=8``; its anomalies resolved the same way), whose raw
   similarities ``M`` also guide the last attention;
3. the last block, no residual, no MLP: ``out_proj(((softmax(M') + softmax(k k^T /
   sqrt(d))) / 2) v)`` with ``M' = 3 (M - mean M)``, negatives masked, shared by the
   heads; plus ``res_cls`` (0.3) times ``c``; aggregated with the thresholded similarities
   of ``F^4`` (``post_adjust_idx=3``);
4. multi-level fusion (Sec. 3.4): the sum of ``F^4 .. F^10`` (``multi_start_idx=3``,
   ``multi_end_idx=10``) goes through the same last attention (+ ``res_cls`` times its
   class token), is aggregated with ``F^4``'s similarities and added;
5. ``ln_post``, ``proj``, normalisation; cosines with the text queries, upsampled to the
   window.

The windows (224 / 112, not padded), their average, the resize and the post-processing
are the shared open-vocabulary path; VOC21 adds SCLIP's small-region filter
(``area_thd``, applied by the shared base's post-processing,
``CLIPDenseSegmentor.postprocess``).

One departure, for non-square windows only (never in the official runs, whose windows are
224 px squares): the official code finds an anomaly's row as ``index // rows`` and its
column as ``index % rows``, right only when rows == columns; langseg uses the columns
(``index // columns``, ``index % columns``).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ...models.layers import residual_block_forward
from ...models.layers.self_similarity_attention import attend, packed_qkv
from ...models.layers.surgery_attention import self_scores
from ...models.segmentors.clip_dense import CLIPDenseSegmentor
from ...registry import MODELS
from ...utils.errors import ConfigError
from .calibration import aggregate, anomaly_tokens, resolve_anomalies, thresholded_similarity


@MODELS.register_module()
class SCCLIPSegmentor(CLIPDenseSegmentor):
    """SC-CLIP (see the module docstring). Arguments as
    :class:`~langseg.models.segmentors.clip_dense.CLIPDenseSegmentor`, with SC-CLIP's
    defaults (``scclip_segmentor.py:19-22``: logit scale 40, windows 224 / 112, no
    padding), plus:

    Args:
        pre_adjust_idx: the block output (0-based) whose similarities aggregate the
            resolved tokens before the last block and guide its attention (8).
        post_adjust_idx: the block output whose similarities aggregate after it (3).
        multi_start_idx, multi_end_idx: the block outputs summed for the multi-level
            fusion, ``[start, end)`` (3, 10).
        res_cls: weight of the class token added to the last block's output (0.3).
        beta: similarity threshold of the aggregations (0.4, the official constant).
        neighbours, contamination: the anomaly search (30 neighbours, 5 %).
        area_thd: SCLIP's small-region filter (the official VOC21 setting 0.1; ``None``:
            off), applied by the shared base's post-processing.
    """

    def __init__(self, class_names: str | Sequence[str], clip: dict | None = None,
                 templates: str | Sequence[str] = 'openai_imagenet',
                 logit_scale: float = 40.0, prob_thd: float = 0.0,
                 slide_crop: int | Sequence[int] = 224,
                 slide_stride: int | Sequence[int] = 112, pad_multiple: int = 0,
                 pre_adjust_idx: int = 8, post_adjust_idx: int = 3,
                 multi_start_idx: int = 3, multi_end_idx: int = 10, res_cls: float = 0.3,
                 beta: float = 0.4, neighbours: int = 30, contamination: float = 0.05,
                 area_thd: float | None = None, synonym_separator: str = ',',
                 **kwargs) -> None:
        super().__init__(class_names, clip=clip, templates=templates,
                         logit_scale=logit_scale, prob_thd=prob_thd, slide_crop=slide_crop,
                         slide_stride=slide_stride, pad_multiple=pad_multiple,
                         synonym_separator=synonym_separator, area_thd=area_thd,
                         **kwargs)
        outputs = len(self.visual.transformer.resblocks) - 1   # blocks before the last
        for name, idx in (('pre_adjust_idx', pre_adjust_idx),
                          ('post_adjust_idx', post_adjust_idx)):
            if not 0 <= int(idx) < outputs:
                raise ConfigError(f'{name} {idx}: expected the output of a block before the '
                                  f'last of the {outputs + 1}-block CLIP tower (0-based)')
        if not 0 <= int(multi_start_idx) < int(multi_end_idx) <= outputs:
            raise ConfigError(f'multi_start_idx {multi_start_idx}, multi_end_idx '
                              f'{multi_end_idx}: expected 0 <= start < end <= {outputs} '
                              'block outputs before the last block')
        if not 0 < float(contamination) < 1:
            raise ConfigError(f'contamination {contamination}: expected a fraction in (0, 1)')
        self.pre_adjust_idx, self.post_adjust_idx = int(pre_adjust_idx), int(post_adjust_idx)
        self.multi_levels = (int(multi_start_idx), int(multi_end_idx))
        self.res_cls, self.beta = float(res_cls), float(beta)
        self.neighbours, self.contamination = int(neighbours), float(contamination)

    # ------------------------------------------------------------------- attention
    def last_attention(self, block: nn.Module, tokens: torch.Tensor,
                       guide: torch.Tensor) -> torch.Tensor:
        """The last block's attention of patch tokens (B, N, C) guided by the similarities
        ``guide`` (B, N, N), ``out_proj`` applied: ``((softmax(M') + softmax(k k^T /
        sqrt(d))) / 2) v`` per head, ``M' = 3 (M - mean M)`` with negatives masked."""
        _, k, v = packed_qkv(block.attn, block.ln_1(tokens))
        guide = (guide - guide.mean(dim=(1, 2), keepdim=True)) * 3.0
        guide = guide.masked_fill(guide < 0.0, float('-inf')).softmax(dim=-1)
        weights = (guide[:, None] + self_scores(k).softmax(dim=-1)) / 2
        return self.out_proj(attend(weights.to(v.dtype), v))

    def dense_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB windows (B, 3, H, W) in [0, 255] -> l2-normalised embeddings (B, E, h, w)."""
        visual = self._towers(rgb.device)[0]
        tokens, grid = self.embed_tokens(visual, rgb)
        blocks = visual.transformer.resblocks
        outputs = []
        for block in blocks[:-1]:
            tokens = residual_block_forward(block, tokens)
            outputs.append(tokens)
        cls, patches = tokens[:, :1], tokens[:, 1:]
        anomalies = torch.stack([anomaly_tokens(p, self.neighbours, self.contamination)
                                 for p in patches])                        # B, N
        patches = resolve_anomalies(patches, anomalies, grid)
        pre = resolve_anomalies(outputs[self.pre_adjust_idx][:, 1:], anomalies, grid)
        guide, pre_weights = thresholded_similarity(pre, self.beta)
        patches = aggregate(patches, pre_weights)
        last = blocks[-1]
        out = self.last_attention(last, patches, guide) + self.res_cls * cls
        _, post_weights = thresholded_similarity(outputs[self.post_adjust_idx][:, 1:],
                                                 self.beta)
        out = aggregate(out, post_weights)
        start, end = self.multi_levels
        fused = torch.zeros_like(outputs[0])
        for level in outputs[start:end]:
            fused = fused + level
        extra = self.last_attention(last, fused[:, 1:], guide) + self.res_cls * fused[:, :1]
        out = out + aggregate(extra, post_weights)
        return self.head(out, grid)

    # -------------------------------------------------------------- post-processing
