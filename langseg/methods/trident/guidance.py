"""Trident's pieces as functions (Shi, Dong and Xu, "Harnessing Vision Foundation Models for
High-Performance, Training-Free Open Vocabulary Segmentation", ICCV 2025,
arXiv:2411.09219; each step as the official code computes it: github.com/YuHengsss/Trident
at a93b346, files and lines named below).

1. Sub-image features (``image_proxy_attention``): ProxyCLIP's proxy attention (Lan et al.,
   ECCV 2024, arXiv:2408.04883, Sec. 3.2) in every window, with one mean over all windows
   of the image (``open_clip/transformer.py:557-584``: ``torch.mean`` over the batch of
   windows):  A_w = gamma (S_w - beta mean_{w', i, j} S_w'), masked below 0, softmax.
2. Splice (``splice_windows``): the windows' attention outputs placed on the whole image's
   grid and averaged where windows overlap (``transformer.py:586-618``).
3. Segment with SAM (``sam_guidance``): the spliced features aggregated by SAM's last
   (global) attention, kept where SAM's value tokens agree (``transformer.py:644-659``):
       C_h = cos(v_h,i, v_h,j) per SAM head h,  t_i = min(cos_fac * mean_{h, j} C_h,ij, 0.9)
       W_ij = mean_h [C_h,ij > t_i] P_h,ij,  W_ij <- W_ij / sum_j W_ij
   with P_h SAM's attention probabilities (softmax with decomposed relative positions);
   out = W F (F: the spliced features resized to SAM's grid).
4. SAM's attention and values (``sam_last_attention``): the image, normalised, padded to
   SAM's square input, through the blocks but the last; the last block's attention
   (``segment_anything/modeling/image_encoder.py:105-113, 221-245``), on the valid
   (unpadded) part of the grid (``trident.py:112-129``); for the SAM refinement
   (``refinement.py``) the same pass also finishes the block and the neck: the image
   embedding, without running the encoder twice.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ...utils.errors import ConfigError


def image_proxy_attention(values: torch.Tensor, vfm_features: torch.Tensor, beta: float,
                          gamma: float) -> torch.Tensor:
    """Proxy attention of the n windows of one image with one mean over all of them.

    Args:
        values: CLIP's value tokens on the VFM grid (n, S, D).
        vfm_features: the VFM's features (n, C, h, w), S = h * w.
    Returns:
        (n, S, D). A row whose every entry is masked (possible only when ``beta * mean >
        1``; NaN in the official code) attends to its own token.
    """
    feats = F.normalize(vfm_features.flatten(2).float(), dim=1)          # n, C, S
    sim = feats.transpose(1, 2) @ feats                                   # n, S, S
    logits = (sim - sim.mean() * beta) * gamma
    diagonal = torch.eye(sim.shape[-1], dtype=torch.bool, device=sim.device)
    logits = logits.masked_fill((logits < 0) & ~diagonal, float('-inf'))
    return torch.softmax(logits, dim=-1).to(values.dtype) @ values


def splice_windows(windows: torch.Tensor, boxes: list[tuple[int, int, int, int]],
                   size: tuple[int, int]) -> torch.Tensor:
    """Window features (n, D, h, w) at grid boxes (y1, y2, x1, x2) -> the average over the
    windows covering each cell of a (D, H, W) grid (every cell is covered)."""
    total = windows.new_zeros(windows.shape[1], *size)
    count = windows.new_zeros(1, *size)
    for (y1, y2, x1, x2), win in zip(boxes, windows):
        total[:, y1:y2, x1:x2] += win
        count[:, y1:y2, x1:x2] += 1
    return total / count


def sam_guidance(sam_values: torch.Tensor, sam_attention: torch.Tensor, cos_fac: float,
                 refine_neg_cos: bool = True) -> torch.Tensor:
    """SAM-guided aggregation weights (N, N), rows summing to 1.

    Args:
        sam_values: SAM's last-block value tokens (heads, N, d) on the valid grid.
        sam_attention: its attention probabilities (heads, N, N) on the valid grid.
        cos_fac: the threshold's factor on the mean cosine (1.2; Cityscapes 3.0, VOC20 0).
        refine_neg_cos: keep a negative threshold (``False``: a negative one becomes 0.6).
    """
    v = F.normalize(sam_values.float(), dim=-1)
    cos = v @ v.transpose(1, 2)                                         # heads, N, N
    thresh = cos_fac * cos.mean(dim=0, keepdim=True).mean(dim=-1, keepdim=True)
    if not refine_neg_cos:
        thresh = torch.where(thresh < 0, torch.full_like(thresh, 0.6), thresh)
    thresh = thresh.clamp_max(0.9)
    kept = torch.where(cos > thresh, sam_attention.float(), torch.zeros_like(cos))
    weights = kept.mean(dim=0)
    return weights / weights.sum(dim=-1, keepdim=True)


def sam_last_attention(model: torch.nn.Module, x: torch.Tensor, valid: tuple[int, int],
                       embedding: bool = False
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """timm's ``VisionTransformerSAM`` on one normalised, padded image ``x`` (1, 3, S, S) ->
    the last block's attention probabilities (heads, n, n) and value tokens (heads, n, d)
    restricted to the ``valid`` (h, w) top-left part of the patch grid, n = h * w, and with
    ``embedding`` the encoder's output (1, C, S/16, S/16): the last block finished from the
    same attention (projection, residual, MLP) and the neck, what the official predictor's
    ``features`` hold (``image_encoder.py:105-114``), for the SAM refinement."""
    from timm.models.vision_transformer_sam import get_decomposed_rel_pos_bias
    from timm.layers import resample_abs_pos_embed_nhwc
    tokens = model.patch_embed(x)
    if model.pos_embed is not None:
        tokens = tokens + resample_abs_pos_embed_nhwc(model.pos_embed, tokens.shape[1:3])
    tokens = model.norm_pre(model.patch_drop(model.pos_drop(tokens)))
    for block in model.blocks[:-1]:
        tokens = block(tokens)
    block = model.blocks[-1]
    if block.window_size:
        raise ConfigError('the last SAM block uses window attention: Trident reads a global '
                          'attention (SAM ViT-B/L/H: global_attn_indexes end with the last '
                          'block)')
    attn = block.attn
    _, gh, gw, _ = tokens.shape
    x1 = block.norm1(tokens).reshape(1, gh * gw, -1)
    qkv = attn.qkv(x1).view(1, gh * gw, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.reshape(3, attn.num_heads, gh * gw, -1).unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)
    logits = (q * attn.scale) @ k.transpose(-2, -1)
    if attn.use_rel_pos:
        logits = logits + get_decomposed_rel_pos_bias(q, attn.rel_pos_h, attn.rel_pos_w,
                                                      (gh, gw), (gh, gw))
    probs = logits.softmax(dim=-1)
    out = None
    if embedding:   # timm's Block.forward with this attention
        mixed = (probs @ v).transpose(0, 1).reshape(1, gh, gw, -1)
        y = tokens + block.drop_path1(block.ls1(attn.proj(mixed)))
        y = y.reshape(1, gh * gw, -1)
        y = y + block.drop_path2(block.ls2(block.mlp(block.norm2(y))))
        out = model.neck(y.reshape(1, gh, gw, -1).permute(0, 3, 1, 2))
    h, w = valid
    heads = attn.num_heads
    probs = probs.view(heads, gh, gw, gh, gw)[:, :h, :w, :h, :w].reshape(heads, h * w, h * w)
    v = v.view(heads, gh, gw, -1)[:, :h, :w].reshape(heads, h * w, -1)
    return probs, v, out
