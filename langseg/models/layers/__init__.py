"""Layers shared by every method (no method imports another; shared parts live here)."""
from .attention import MultiHeadAttention
from .attention_pool import DenseAttentionPool2d
from .pos_embed import resize_grid_pos_embed, square_grid
from .transformer_blocks import DropPath, block_value_path, residual_block_forward

__all__ = ['DenseAttentionPool2d', 'MultiHeadAttention', 'DropPath', 'block_value_path', 'resize_grid_pos_embed',
           'residual_block_forward', 'square_grid']
