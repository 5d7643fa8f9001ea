"""Pixel-adaptive mask refinement (PAMR; Araslanov and Roth, "Single-Stage Semantic
Segmentation from Image Labels", CVPR 2020, arXiv:2005.08104, Sec. 3.3), as NACLIP
(Hajimiri et al., "Pay Attention to Your Neighbours: Training-Free Open-Vocabulary Semantic
Segmentation", WACV 2025, arXiv:2404.08181) applies it to open-vocabulary logits: 10
iterations, dilations (8, 16), on the logits at the image's size, before the softmax.

For every pixel i and its 8 neighbours j at each dilation d (replicate padding):

    k(i, j) = -|I_i - I_j| / (1e-8 + 0.1 * sigma_i)      per image channel, then averaged
    a(i, j) = softmax_j k(i, j)                           over all 8 * len(dilations) j
    m_i <- sum_j a(i, j) m_j                              repeated ``num_iter`` times

with ``sigma_i`` the standard deviation (unbiased, per image channel) of the 3x3 windows
around i of all dilations taken together (9 values per dilation, the centre included
each time), as the original implementation computes it. The affinities depend on the image only, so
they are computed once and all K class maps are refined together, one batched gather per
iteration.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

#: NACLIP's PAMR settings (10 iterations, dilations 8 and 16), the default wherever PAMR is
#: switched on without settings; read-only: copy it with ``dict(PAMR_DEFAULT)``.
PAMR_DEFAULT: Mapping = MappingProxyType(dict(num_iter=10, dilations=(8, 16)))

#: The 8 neighbour offsets (dy, dx) of a 3x3 window, row by row.
_OFFSETS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def _shifted(x: torch.Tensor, d: int, offsets: Sequence[tuple[int, int]]) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, P, H, W): x at i + d * offset, replicate padding."""
    h, w = x.shape[-2:]
    padded = F.pad(x, [d] * 4, mode='replicate')
    return torch.stack([padded[..., d + dy * d:d + dy * d + h, d + dx * d:d + dx * d + w]
                        for dy, dx in offsets], dim=2)


def pamr_affinity(image: torch.Tensor, dilations: Sequence[int]) -> torch.Tensor:
    """Affinities (B, P, H, W) of each pixel to its P = 8 * len(dilations) neighbours."""
    image = image.float()
    windows = torch.cat([_shifted(image, d, [(0, 0)] + _OFFSETS) for d in dilations],
                        dim=2)                                         # B, C, 9 n, H, W
    sigma = windows.std(dim=2, keepdim=True)                           # B, C, 1, H, W
    diff = (image[:, :, None] - torch.cat([_shifted(image, d, _OFFSETS)
                                           for d in dilations], dim=2)).abs()
    logits = (-diff / (1e-8 + 0.1 * sigma)).mean(dim=1)                # B, 8 n, H, W
    return torch.softmax(logits, dim=1)


def pamr(image: torch.Tensor, masks: torch.Tensor, num_iter: int = 10,
         dilations: Sequence[int] = (8, 16)) -> torch.Tensor:
    """Refine ``masks`` (B, K, H, W) with the affinities of ``image`` (B, C, H', W'); the
    masks are first resized to the image (bilinear, ``align_corners=True`` as PAMR)."""
    if masks.shape[-2:] != image.shape[-2:]:
        masks = F.interpolate(masks, size=image.shape[-2:], mode='bilinear',
                              align_corners=True)
    affinity = pamr_affinity(image, dilations)[:, None]                # B, 1, P, H, W
    out = masks.float()
    for _ in range(int(num_iter)):
        neighbours = torch.cat([_shifted(out, d, _OFFSETS) for d in dilations], dim=2)
        out = (neighbours * affinity).sum(dim=2)
    return out.to(masks.dtype)


__all__ = ['PAMR_DEFAULT', 'pamr', 'pamr_affinity']
