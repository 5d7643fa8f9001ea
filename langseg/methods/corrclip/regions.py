"""CorrCLIP's region operations (Zhang et al., "CorrCLIP: Reconstructing Patch
Correlations in CLIP for Open-Vocabulary Semantic Segmentation", ICCV 2025,
arXiv:2411.10086, Sec. 3.2-3.4), on integer region maps: each pixel holds the id of its
region; the smallest id of a map marks its *unsegmented* pixels (0 where some pixels are
covered by no mask; where every pixel is covered, the region with the smallest id is
treated as unsegmented, as the official code does).

* :func:`merge_regions`: regions whose mean VFM features are close are merged (the
  official code clusters them with DBSCAN, ``eps`` 0.2, ``min_samples`` 1, on the
  distances ``max(S) - S`` of their cosine similarities ``S``; with one sample a core
  point that is the connected components of ``d <= eps``, numbered in the order of their
  first region, :func:`connected_clusters`); merged regions get the id
  ``10000 + cluster``, the id the window padding also has;
* :func:`scope_mask`: which patch pairs may correlate (the *scope reconstruction*): pairs
  within one segmented region, and pairs with an unsegmented patch whose VFM similarity
  is above the window's mean similarity;
* :func:`correct_labels`: the *map correction*: every segmented region takes its most
  frequent label (the smallest on ties).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

#: the id of padded pixels, and the base of merged regions' ids (the official code's)
PAD_ID = 10000


def connected_clusters(dist: torch.Tensor, eps: float) -> torch.Tensor:
    """Cluster ids (N,) of the connected components of the graph ``dist <= eps`` (N, N),
    numbered 0, 1, ... in the order of each component's smallest index: DBSCAN with
    ``min_samples=1`` (every point is a core point, no noise)."""
    n = dist.shape[0]
    adjacent = (dist <= eps) | torch.eye(n, dtype=torch.bool, device=dist.device)
    label = torch.arange(n, device=dist.device)
    while True:   # each node takes the smallest label among its neighbours until stable
        spread = torch.where(adjacent, label[None, :], n).amin(dim=1)
        if torch.equal(spread, label):
            break
        label = spread
    return torch.unique(label, return_inverse=True)[1]


def merge_regions(region_map: torch.Tensor, features: torch.Tensor, eps: float = 0.2
                  ) -> torch.Tensor:
    """``region_map`` (h, w) integer ids on the VFM grid, ``features`` (h*w, C)
    l2-normalised VFM features -> the map with similar regions merged (module
    docstring). Maps of at most two ids are returned unchanged."""
    values, inverse = torch.unique(region_map, return_inverse=True)
    if values.numel() <= 2:
        return region_map
    inverse = inverse.flatten()
    sums = features.new_zeros(values.numel(), features.shape[1]).index_add_(
        0, inverse, features)
    counts = torch.bincount(inverse, minlength=values.numel()).to(features.dtype)
    means = F.normalize(sums / counts[:, None], dim=1)[1:]   # the unsegmented one aside
    sim = means @ means.T
    cluster = connected_clusters(sim.max() - sim, eps)
    new_ids = torch.cat([values[:1], PAD_ID + cluster.to(values.dtype)])
    return new_ids[inverse].view_as(region_map)


def scope_mask(region_map: torch.Tensor, similarity: torch.Tensor) -> torch.Tensor:
    """Allowed correlations (N, N) of the N patches of ``region_map`` (h, w) given their
    similarity (N, N): same segmented region, or an unsegmented patch in the pair and a
    similarity above the mean of ``similarity``."""
    ids = region_map.flatten()
    unsegmented = ids == ids.min()
    same = (ids[:, None] == ids[None, :]) & ~unsegmented[:, None]
    loose = (unsegmented[:, None] | unsegmented[None, :]) & (similarity > similarity.mean())
    return same | loose


def correct_labels(labels: torch.Tensor, region_map: torch.Tensor) -> torch.Tensor:
    """``labels`` (H, W) with each segmented region of ``region_map`` (H, W) set to its
    most frequent label (the smallest on ties); the unsegmented pixels (the smallest id)
    keep theirs."""
    values, inverse = torch.unique(region_map, return_inverse=True)
    if values.numel() <= 1:
        return labels
    inverse = inverse.flatten()
    flat = labels.flatten().long()
    k = int(flat.max()) + 1
    counts = torch.bincount(inverse * k + flat, minlength=values.numel() * k)
    mode = counts.view(values.numel(), k).argmax(dim=1)   # first maximum: smallest label
    out = torch.where(inverse > 0, mode[inverse], flat)
    return out.view_as(labels).to(labels.dtype)
