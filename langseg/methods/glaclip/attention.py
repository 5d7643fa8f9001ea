"""GLA-CLIP's global-local aligned attention (Lee et al., "Looking Beyond the Window:
Global-Local Aligned CLIP for Training-free Open-Vocabulary Semantic Segmentation", CVPR
2026, arXiv:2603.23030; the official code decides each step: github.com/2btlFe/GLA-CLIP,
myutils.py ``KV_Extension`` at ba74915, lines 83-201, run with predict.sh's flags).

ProxyCLIP's proxy attention (Lan et al., ECCV 2024, arXiv:2408.04883, Sec. 3.2) reads the
attention of CLIP's last block from a VFM's features, inside one window. GLA-CLIP lets
every query token of a window attend to the key/value tokens of *all* windows of the
image (the key-value extension), and makes the affinities comparable across windows:

    K = l2norm(VFM tokens of all n windows)            (N, C)   N = n * S
    proxy anchors, ``iters`` times (from P = K):
        M = [P K^T > tau]  (a row with no entry keeps its own token)
        P = l2norm(M K)                                         mean of the similar keys
    A = P K^T                                          (N, N)   anchor-to-key affinities
    m_i = max(mean_j A_ij, 0)                                   per query row
    beta' = 1 + beta_alpha * log(1 + n)                         dynamic beta (windows)
    gamma'_i = 1 + gamma_alpha / |M_i|                          dynamic gamma (the size of
                                                                the last anchor's support)
    A'_ij = gamma'_i (A_ij - beta' m_i)
    A'_ij = -inf where A'_ij < min(max_j A'_ij, cut)            (cut 0: keep A' >= 0)
    out = softmax(A' / T) V                            (N, D)   V: CLIP's value tokens of
                                                                all windows, on the VFM grid

Every step is a function of one query row and the keys, so the rows are computed in
chunks (``chunk_rows``): the N x N affinities of a many-window image are never held at
once (the official code holds them, and its masks, for the whole image).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def global_proxy_attention(values: torch.Tensor, vfm_tokens: torch.Tensor,
                           num_windows: int, threshold: float = 0.6, iters: int = 2,
                           beta: float = 1.2, gamma: float = 3.0,
                           beta_alpha: float | None = 0.3, gamma_alpha: float | None = 30.0,
                           cut: float = 0.0, temperature: float = 1.0,
                           chunk_rows: int = 2048) -> torch.Tensor:
    """GLA-CLIP's attention of one image (see the module docstring).

    Args:
        values: CLIP's value tokens of all the image's windows on the VFM grid (N, D).
        vfm_tokens: the VFM's tokens of the same positions (N, C), same order.
        num_windows: n, the number of windows (the dynamic beta's argument).
        threshold: tau, the proxy anchors' similarity threshold (official
            ``initial_crit_pos``, 0.6 in predict.sh).
        iters: proxy-anchor iterations (official ``mini_iters``, 2); 0: the anchors are
            the keys themselves (A = K K^T, M from it).
        beta, gamma: the static constants, used where ``beta_alpha`` / ``gamma_alpha``
            is ``None`` (dynamic normalisation off).
        beta_alpha, gamma_alpha: the dynamic beta's and gamma's alphas (0.3, 30).
        cut: the masking level (official ``cutting_hp``, 0).
        temperature: T of the softmax (1).
        chunk_rows: query rows computed at a time (a memory bound; the result does not
            depend on it).

    Returns:
        (N, D) attention output (before the block's ``out_proj``), in fp32.
    """
    keys = F.normalize(vfm_tokens.float(), dim=-1)
    values = values.float()
    beta_eff = beta if beta_alpha is None else 1 + beta_alpha * math.log1p(num_windows)
    out = []
    for start in range(0, keys.shape[0], max(1, int(chunk_rows))):
        anchors = keys[start:start + chunk_rows]
        rows = torch.arange(start, start + anchors.shape[0], device=keys.device)
        sim = anchors @ keys.T
        support = sim > threshold
        for _ in range(iters):
            support = sim > threshold
            empty = ~support.any(dim=-1)
            support[empty, rows[empty]] = True      # a lost anchor keeps its own token
            anchors = F.normalize(support.to(keys.dtype) @ keys, dim=-1)
            sim = anchors @ keys.T
        mean = sim.mean(dim=-1, keepdim=True).clamp_min(0)
        if gamma_alpha is None:
            gamma_eff = gamma
        else:
            gamma_eff = 1 + gamma_alpha / support.sum(dim=-1, keepdim=True).to(sim.dtype)
        logits = (sim - mean * beta_eff) * gamma_eff
        level = logits.max(dim=-1, keepdim=True).values.clamp_max(cut)
        logits = logits.masked_fill(logits < level, float('-inf'))
        out.append(torch.softmax(logits / temperature, dim=-1) @ values)
    return torch.cat(out)
