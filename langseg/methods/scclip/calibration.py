"""SC-CLIP's self-calibration pieces (Bai, Liu, Han, Zhang and Tang, "Self-Calibrated CLIP
for Training-Free Open-Vocabulary Segmentation", arXiv:2411.15869, Sec. 3), as the
official code computes them (github.com/SuleBai/SC-CLIP, ``clip/model.py``):

* :func:`anomaly_tokens` (``lof_pytorch``): a local-outlier score per patch token of the
  penultimate block, from its 30 nearest neighbours in squared Euclidean distance. The
  official "reach distance" is ``max(d_ij, k-distance_i)`` with the token's *own*
  k-distance, which equals the k-distance for every neighbour, so the density is
  ``LRD_i = 30 / kdist_i`` and the score ``LOF_i = mean_j LRD_j / LRD_i`` over the
  neighbours j; tokens scoring above the 0.95 quantile (``torch.quantile``, linear) are
  the anomalies (about 5 %);
* :func:`resolve_anomalies` (``mean_interpolation``): each anomaly replaced by the mean of
  its 3 x 3 neighbours that are not anomalies (zero padding; one without such neighbours
  is kept);
* :func:`aggregate` (``adaptively_aggregate``): features averaged with row-normalised
  similarity weights, ``(S / (sum_j S_ij + 1e-6)) X``;
* :func:`thresholded_similarity`: cosines of l2-normalised tokens, those below ``beta``
  (0.4) set to 0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ...utils.errors import ConfigError

__all__ = ['aggregate', 'anomaly_tokens', 'resolve_anomalies', 'thresholded_similarity']


def anomaly_tokens(tokens: torch.Tensor, neighbours: int = 30,
                   contamination: float = 0.05) -> torch.Tensor:
    """Patch tokens (N, C) -> a bool mask (N,) of the anomalies (module docstring)."""
    n = tokens.shape[0]
    if n <= neighbours:
        raise ConfigError(f'SC-CLIP finds anomaly tokens among {neighbours} neighbours: a '
                          f'window of {n} patches has too few, expected at least '
                          f'{neighbours + 1} (a larger slide_crop, or images of that size)')
    tokens = tokens.float()
    dist = torch.norm(tokens[:, None] - tokens[None, :], dim=2, p=2) ** 2
    knn_dist, knn_idx = torch.topk(dist, k=neighbours + 1, largest=False)
    knn_dist, knn_idx = knn_dist[:, 1:], knn_idx[:, 1:]
    reach = torch.max(knn_dist, knn_dist[:, -1:].expand_as(knn_dist))
    lrd = neighbours / torch.nan_to_num(reach.mean(dim=1), nan=1e-6)
    lof = (lrd[knn_idx] / lrd[:, None]).mean(dim=1)
    return lof > torch.quantile(lof, 1 - contamination)


def resolve_anomalies(tokens: torch.Tensor, anomalies: torch.Tensor,
                      grid: tuple[int, int]) -> torch.Tensor:
    """Tokens (B, h*w, C) and anomaly masks (B, h*w) -> the tokens with each anomaly
    replaced by the mean of its non-anomalous 3 x 3 neighbours (module docstring)."""
    b, n, c = tokens.shape
    h, w = grid
    fmap = tokens.transpose(1, 2).reshape(b, c, h, w)
    keep = (~anomalies).to(tokens.dtype).reshape(b, 1, h, w)
    ring = torch.ones(1, 1, 3, 3, dtype=tokens.dtype, device=tokens.device)
    ring[0, 0, 1, 1] = 0
    sums = F.conv2d(F.pad(fmap * keep, (1, 1, 1, 1)).reshape(b * c, 1, h + 2, w + 2),
                    ring).reshape(b, c, h, w)
    counts = F.conv2d(F.pad(keep, (1, 1, 1, 1)), ring)                     # B, 1, h, w
    update = (1 - keep) * (counts > 0).to(tokens.dtype)
    means = sums / counts.clamp(min=1)
    fmap = fmap * (1 - update) + means * update
    return fmap.reshape(b, c, n).transpose(1, 2)


def thresholded_similarity(tokens: torch.Tensor, beta: float
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens (B, N, C) -> (cosine similarities (B, N, N), the same with values below
    ``beta`` set to 0)."""
    unit = tokens / tokens.norm(dim=-1, keepdim=True)
    sim = unit @ unit.transpose(1, 2)
    return sim, sim.masked_fill(sim < beta, 0.0)


def aggregate(tokens: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Tokens (B, N, C) averaged with the row-normalised ``weights`` (B, N, N)."""
    weights = weights.to(tokens.dtype)
    return (weights / (weights.sum(dim=-1, keepdim=True) + 1e-6)) @ tokens
