"""ResCLIP's semantic feedback refinement (SFR): a first segmentation of the window turned
into an attention prior over the patches (Yang, Deng, Li and Duan, "ResCLIP: Residual
Attention for Training-free Dense Vision-language Inference", CVPR 2025, arXiv:2411.15851,
Sec. 3.3). Where the paper is silent, the official code (github.com/yvhangyang/ResCLIP,
``clip/model.py``) decides; each step below names the function it follows.

1. :func:`patch_labels` (``create_patch_matrix``): per pixel the best query of the
   first segmentation's probabilities, 0 where that probability is below ``temp_thd``; per
   patch the most frequent label of its ``p x p`` pixels (``torch.mode``: the smallest of
   equally frequent ones).
2. :func:`same_entity_paths` (``check_path``): whether the straight path from patch i
   towards patch j stays on i's label. The official path samples ``max_steps + 1`` points
   ``round(c_i (1 - t) + c_j t)``, ``t = k / max_steps`` for the longest Chebyshev distance
   ``max_steps`` of the grid, and checks the first ``steps_ij + 1`` of them, so a short
   pair's check covers only the first ``steps_ij / max_steps`` of its segment; this is
   kept as it is.
3. :func:`feedback_prior` (``generate_attention_sfr``): ``S_ij = [l_i = l_j]``; pairs of
   the same label not joined by such a path decay by ``exp(-steps_ij / max_steps)``; each
   row is blurred by a 1-D Gaussian (``std``, kernel ``min(N, int(6 std + 1))`` made odd,
   zero padding) along the flattened patch index, clipped at 0 and normalised to sum 1;
   the class token's row and column are 0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ['feedback_prior', 'patch_labels', 'same_entity_paths']


def patch_labels(probs: torch.Tensor, patch: int, temp_thd: float) -> torch.Tensor:
    """Probabilities (B, Q, H, W) of the first segmentation at the window's size -> the
    label of each patch (B, H // patch, W // patch) (rows and columns beyond the last
    whole patch are left out, as the patch grid leaves them out)."""
    best, labels = probs.max(dim=1)
    labels = labels.masked_fill(best < temp_thd, 0)
    b, hh, ww = labels.shape
    h, w = hh // patch, ww // patch
    labels = labels[:, :h * patch, :w * patch].reshape(b, h, patch, w, patch)
    labels = labels.permute(0, 1, 3, 2, 4).reshape(b, h, w, patch * patch)
    return torch.mode(labels, dim=-1).values


def _grid_coords(h: int, w: int, device: torch.device) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                                indexing='ij')
    return torch.stack([rows, cols], dim=-1).reshape(h * w, 2)


def same_entity_paths(labels: torch.Tensor, chunk_elements: int = 1 << 22
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Patch labels (h, w) -> (valid (N, N) bool, steps (N, N) Chebyshev distances): whether
    the sampled straight path from patch i towards patch j keeps i's label (module
    docstring, step 2). Computed in chunks of rows i (at most ``chunk_elements`` sampled
    points at a time)."""
    h, w = labels.shape
    n = h * w
    coords = _grid_coords(h, w, labels.device)
    steps = (coords[None, :, :] - coords[:, None, :]).abs().amax(dim=-1)     # N(i), N(j)
    max_steps = int(steps.max()) if n > 1 else 0
    t = torch.linspace(0, 1, steps=max_steps + 1, device=labels.device).view(1, 1, -1, 1)
    flat = labels.reshape(-1)
    start_f, end_f = coords.float(), coords.float()
    ks = torch.arange(max_steps + 1, device=labels.device)
    valid = torch.empty(n, n, dtype=torch.bool, device=labels.device)
    rows = max(1, chunk_elements // max(1, n * (max_steps + 1)))
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        cur = start_f[i0:i1, None, None, :] * (1 - t) + end_f[None, :, None, :] * t
        cur = cur.round().long()                                           # c, N, S, 2
        on_label = flat[cur[..., 0] * w + cur[..., 1]] == flat[i0:i1, None, None]
        checked = ks[None, None, :] <= steps[i0:i1, :, None]
        valid[i0:i1] = (on_label | ~checked).all(dim=-1)
    return valid, steps


def feedback_prior(labels: torch.Tensor, std: float, delete_same_entity: bool = True
                   ) -> torch.Tensor:
    """Patch labels (B, h, w) -> the SFR prior (B, 1 + h*w, 1 + h*w), class token first
    (module docstring, step 3)."""
    b, h, w = labels.shape
    n = h * w
    out = labels.new_zeros(b, n + 1, n + 1, dtype=torch.float32)
    size = min(n, int(6 * std + 1))
    size = size if size % 2 == 1 else size + 1
    x = torch.arange(size, device=labels.device) - size // 2
    kernel = torch.exp(-(x ** 2) / (2 * std ** 2))
    kernel = (kernel / kernel.sum()).view(1, 1, -1)
    for i in range(b):
        flat = labels[i].reshape(-1)
        same = (flat[:, None] == flat[None, :]).float()
        if delete_same_entity:
            valid, steps = same_entity_paths(labels[i])
            max_steps = max(int(steps.max()), 1)
            same = torch.where(valid, same, same * torch.exp(-steps / max_steps))
        blurred = F.relu(F.conv1d(same[:, None], kernel, padding=size // 2)[:, 0])
        out[i, 1:, 1:] = blurred / (blurred.sum(dim=1, keepdim=True) + 1e-8)
    return out
