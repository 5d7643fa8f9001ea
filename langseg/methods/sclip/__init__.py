"""SCLIP (Wang et al., "SCLIP: Rethinking Self-Attention for Dense Vision-Language
Inference", ECCV 2024, arXiv:2312.01597): CLIP's last attention replaced by correlative
self-attention, on the shared dense-CLIP base (``langseg.models.segmentors.clip_dense``)."""
from .segmentor import SCLIPSegmentor

__all__ = ['SCLIPSegmentor']
