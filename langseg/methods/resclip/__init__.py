"""ResCLIP (Yang et al., CVPR 2025, arXiv:2411.15851): residual cross-correlation
self-attention and semantic feedback refinement on NACLIP's last block, a training-free
open-vocabulary segmentor on the shared dense-CLIP path."""
from .segmentor import ResCLIPSegmentor

__all__ = ['ResCLIPSegmentor']
