"""Conv-Former (Jin & Yang, "CLIP for Lightweight Semantic Segmentation", arXiv:2310.07394):
the fusion module between the backbone and Semantic FPN."""
from .fusion import ConvFormerFusion, ConvFormerOutput

__all__ = ['ConvFormerFusion', 'ConvFormerOutput']
