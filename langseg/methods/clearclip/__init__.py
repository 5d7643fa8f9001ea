"""ClearCLIP (Lan et al., "ClearCLIP: Decomposing CLIP Representations for Dense
Vision-Language Inference", ECCV 2024, arXiv:2407.12442): CLIP's last block reduced to a
q-q self-attention without residual and feed-forward network, on the shared dense-CLIP
base (``langseg.models.segmentors.clip_dense``)."""
from .segmentor import ClearCLIPSegmentor

__all__ = ['ClearCLIPSegmentor']
