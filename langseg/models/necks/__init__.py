"""Method necks: the fusion modules between backbone and decoder."""
from .convformer import ConvFormerNeck
from .denseclip import ContextDecoder, DenseCLIPFusion

__all__ = ['ContextDecoder', 'ConvFormerNeck', 'DenseCLIPFusion']
