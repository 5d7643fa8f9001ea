"""Layers shared by every method (no method imports another; shared parts live here)."""
from .attention import MultiHeadAttention
from .attention_pool import DenseAttentionPool2d
from .frozen import AlwaysEvalMixin
from .pamr import pamr, pamr_affinity
from .proxy_attention import proxy_affinity, proxy_attention, resize_value_grid
from .pos_embed import (GRID_INTERPOLATIONS, GridInterpolation, grid_interpolation,
                        resize_grid_pos_embed, sincos_pos_embed_2d, square_grid)
from .transformer_blocks import DropPath, block_value_path, residual_block_forward

__all__ = ['AlwaysEvalMixin', 'pamr', 'pamr_affinity', 'GRID_INTERPOLATIONS', 'GridInterpolation', 'grid_interpolation', 'DenseAttentionPool2d', 'DropPath', 'MultiHeadAttention', 'block_value_path',
           'proxy_affinity', 'proxy_attention', 'resize_grid_pos_embed', 'resize_value_grid',
           'residual_block_forward', 'sincos_pos_embed_2d', 'square_grid']
