"""Resizing learned 2-D positional embeddings (CLIP ViT patch grid, CLIP ResNet attnpool,
VFM ViTs), and MAE's fixed 2-D sin-cos table (:func:`sincos_pos_embed_2d`, SegCLIP's
reconstruction decoder).

How a stored grid of positions is resized to another grid is a detail that differs between
the codebases whose weights we load, and on identical weights it changes every output
(a 14x14 -> 40x40 ViT grid resized bicubic instead of bilinear differs by 5e-2). So the
rule is data, :class:`GridInterpolation`, chosen per model, with four named presets:

``'bilinear'``
    ``F.interpolate(grid, size=(h, w), mode='bilinear', align_corners=False)``: DenseCLIP
    (Rao et al., CVPR 2022, arXiv:2112.01518), both when loading CLIP weights into a 512 /
    640 px model and at every forward, for the ResNet attention pool and the ViT.
``'bicubic'``
    the same with ``mode='bicubic'``: MAE's ``interpolate_pos_embed`` (He et al., CVPR 2022,
    arXiv:2111.06377) and SegCLIP's evaluation (Luo et al., ICML 2023, arXiv:2211.14813).
``'bicubic-antialias'``
    bicubic with ``antialias=True``: timm's ``resample_abs_pos_embed``, open_clip's
    ``resize_pos_embed`` and DINOv2 with registers (Darcet et al., ICLR 2024,
    arXiv:2309.16588). Note that PyTorch's antialiased bicubic uses a = -0.5 (PIL's kernel)
    where the plain one uses a = -0.75, so the two differ even when upsampling.
``'bicubic-offset'``
    DINO's ``interpolate_pos_encoding`` (Caron et al., ICCV 2021, arXiv:2104.14294):
    bicubic by ``scale_factor = (n + 0.1) / N`` per axis (n the new, N the stored side),
    not by output size, so source coordinates are ``(x + 0.5) N / (n + 0.1) - 0.5``.
    ProxyCLIP's official code uses it for both CLIP and DINO (Lan et al., ECCV 2024,
    arXiv:2408.04883).

The class token rows (``num_prefix``) are kept as they are; the grid is reshaped as
``(1, H, W, C) -> (1, C, H, W)``, rows first, as all of the above do.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import torch
import torch.nn.functional as F

from ...utils.errors import ConfigError


@dataclass(frozen=True)
class GridInterpolation:
    """How a grid of positional embeddings is resized (see the module docstring)."""

    mode: str = 'bicubic'
    antialias: bool = False
    #: DINO's rule: resize by ``scale_factor = (dst + offset) / src`` instead of by size.
    scale_offset: float | None = None

    def resize(self, grid: torch.Tensor, dst_hw: tuple[int, int]) -> torch.Tensor:
        """``grid`` (1, C, H, W) -> (1, C, h, w)."""
        grid = grid.float()
        dst_hw = (int(dst_hw[0]), int(dst_hw[1]))  # sizes traced as tensors (get_flops)
        if self.scale_offset is None:
            return F.interpolate(grid, size=tuple(dst_hw), mode=self.mode,
                                 align_corners=False, antialias=self.antialias)
        src_h, src_w = int(grid.shape[-2]), int(grid.shape[-1])
        scale = ((dst_hw[0] + self.scale_offset) / src_h,
                 (dst_hw[1] + self.scale_offset) / src_w)
        out = F.interpolate(grid, scale_factor=scale, mode=self.mode, align_corners=False,
                            antialias=self.antialias)
        if tuple(out.shape[-2:]) != tuple(dst_hw):  # floor(src * scale) must give dst
            raise ValueError(f'scale-factor resize gave {tuple(out.shape[-2:])}, expected '
                             f'{tuple(dst_hw)}')
        return out


#: The named rules (module docstring).
GRID_INTERPOLATIONS: dict[str, GridInterpolation] = {
    'bilinear': GridInterpolation('bilinear'),
    'bicubic': GridInterpolation('bicubic'),
    'bicubic-antialias': GridInterpolation('bicubic', antialias=True),
    'bicubic-offset': GridInterpolation('bicubic', scale_offset=0.1),
}

PosInterp = Union[str, dict, GridInterpolation]


def grid_interpolation(spec: PosInterp) -> GridInterpolation:
    """A :class:`GridInterpolation` from a preset name, a dict of its fields, or itself."""
    if isinstance(spec, GridInterpolation):
        return spec
    if isinstance(spec, str):
        if spec not in GRID_INTERPOLATIONS:
            raise ConfigError(f'unknown positional-embedding interpolation {spec!r}: '
                              f'expected one of {", ".join(GRID_INTERPOLATIONS)} or a dict '
                              '(mode, antialias, scale_offset)')
        return GRID_INTERPOLATIONS[spec]
    if isinstance(spec, dict):
        unknown = set(spec) - {'mode', 'antialias', 'scale_offset'}
        if unknown:
            raise ConfigError(f'positional-embedding interpolation keys {sorted(unknown)} '
                              'are unknown: expected mode, antialias, scale_offset')
        return GridInterpolation(**spec)
    raise ConfigError(f'positional-embedding interpolation {spec!r}: expected a preset name '
                      'or a dict')


def resize_grid_pos_embed(pos: torch.Tensor, src_hw: tuple[int, int], dst_hw: tuple[int, int],
                          num_prefix: int = 1, interp: PosInterp = 'bicubic') -> torch.Tensor:
    """Resize ``(num_prefix + H*W, C)`` positional embeddings to another ``h x w`` grid.

    The ``num_prefix`` leading rows (the class token's) are kept; the grid rows are
    reshaped to ``(1, C, H, W)`` and resized by ``interp`` (a preset of
    :data:`GRID_INTERPOLATIONS` or a :class:`GridInterpolation`). Returns ``pos`` itself
    when the grids match.
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
    grid = grid_interpolation(interp).resize(grid, dst_hw)
    grid = grid.to(pos.dtype).permute(0, 2, 3, 1).reshape(dst_hw[0] * dst_hw[1], channels)
    return torch.cat([prefix, grid], dim=0)


def square_grid(num_grid_tokens: int) -> tuple[int, int]:
    """The side of a square grid of ``num_grid_tokens`` tokens."""
    side = int(round(math.sqrt(num_grid_tokens)))
    if side * side != num_grid_tokens:
        raise ValueError(f'{num_grid_tokens} tokens do not form a square grid')
    return side, side


def sincos_pos_embed_2d(dim: int, grid: tuple[int, int]) -> torch.Tensor:
    """MAE's fixed 2-D sin-cos positions ``(h*w, dim)`` (He et al., CVPR 2022,
    arXiv:2111.06377, ``get_2d_sincos_pos_embed``): the first half of the channels encodes
    the *column* of a patch, the second half its row (MAE builds its grid with
    ``np.meshgrid(grid_w, grid_h)``, so its "emb_h" is the column's), each
    ``[sin(p w_i), cos(p w_i)]`` with ``w_i = 10000^(-i/(dim/4))``; patches row-major."""
    if dim % 4:
        raise ConfigError(f'sin-cos positions need a width divisible by 4, got {dim}')
    h, w = grid
    omega = 1.0 / 10000**(torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))
    rows, cols = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                                torch.arange(w, dtype=torch.float64), indexing='ij')

    def encode(pos: torch.Tensor) -> torch.Tensor:
        angles = pos.flatten()[:, None] * omega[None]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([encode(cols), encode(rows)], dim=1).float()
