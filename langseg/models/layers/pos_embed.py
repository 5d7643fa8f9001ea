"""Resizing learned 2-D positional embeddings (CLIP ViT patch grid, CLIP ResNet attnpool)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_grid_pos_embed(pos: torch.Tensor, src_hw: tuple[int, int], dst_hw: tuple[int, int],
                          num_prefix: int = 1, mode: str = 'bicubic') -> torch.Tensor:
    """Resize ``(num_prefix + H*W, C)`` positional embeddings to another ``H x W`` grid.

    The ``num_prefix`` leading rows (the class token's) are kept; the grid rows are
    reshaped to ``(1, C, H, W)`` and interpolated (bicubic, ``align_corners=False``, as
    open_clip and DenseCLIP do). Returns ``pos`` itself when the grids match.
    """
    src_hw, dst_hw = tuple(src_hw), tuple(dst_hw)
    if src_hw == dst_hw:
        return pos
    prefix, grid = pos[:num_prefix], pos[num_prefix:]
    if grid.shape[0] != src_hw[0] * src_hw[1]:
        raise ValueError(f'positional embedding has {grid.shape[0]} grid rows, expected '
                         f'{src_hw[0]}x{src_hw[1]}')
    channels = grid.shape[-1]
    grid = grid.reshape(1, src_hw[0], src_hw[1], channels).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=dst_hw, mode=mode, align_corners=False)
    grid = grid.to(pos.dtype).permute(0, 2, 3, 1).reshape(dst_hw[0] * dst_hw[1], channels)
    return torch.cat([prefix, grid], dim=0)


def square_grid(num_grid_tokens: int) -> tuple[int, int]:
    """The side of a square grid of ``num_grid_tokens`` tokens."""
    side = int(round(num_grid_tokens ** 0.5))
    if side * side != num_grid_tokens:
        raise ValueError(f'{num_grid_tokens} tokens do not form a square grid')
    return side, side
