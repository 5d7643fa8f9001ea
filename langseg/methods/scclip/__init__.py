"""SC-CLIP (Bai et al., arXiv:2411.15869): self-calibrated CLIP (anomaly-token resolution,
similarity-guided aggregation and attention, multi-level fusion), a training-free
open-vocabulary segmentor on the shared dense-CLIP path."""
from .segmentor import SCCLIPSegmentor

__all__ = ['SCCLIPSegmentor']
