"""SCLIP's small-region filter, which SC-CLIP keeps (Wang et al., "SCLIP: Rethinking
Self-Attention for Dense Vision-Language Inference", ECCV 2024, arXiv:2312.01597; official
``postprocess_result`` of github.com/wangf3014/SCLIP and github.com/SuleBai/SC-CLIP)."""
from __future__ import annotations

import torch


def area_filter(probs: torch.Tensor, area_thd: float) -> torch.Tensor:
    """Class probabilities (K, H, W), class 0 the background -> the same with the
    foreground classes whose argmax area is at most ``area_thd`` of all foreground-argmax
    pixels set to zero."""
    labels = probs.argmax(dim=0)
    counts = torch.bincount(labels.flatten(), minlength=probs.shape[0])[1:].to(probs)
    keep = counts > area_thd * counts.sum()
    out = probs.clone()
    out[1:] *= keep.to(probs)[:, None, None]
    return out
