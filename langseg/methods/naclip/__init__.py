"""NACLIP (Hajimiri, Ben Ayed and Dolz, "Pay Attention to Your Neighbours: Training-Free
Open-Vocabulary Semantic Segmentation", WACV 2025, arXiv:2404.08181): CLIP's last block
with key-key attention plus a Gaussian neighbourhood, no residual and no feed-forward
network, on the shared dense-CLIP base (``langseg.models.segmentors.clip_dense``)."""
from .segmentor import NACLIPSegmentor

__all__ = ['NACLIPSegmentor']
