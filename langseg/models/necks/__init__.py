"""Method necks: the fusion modules between backbone and decoder."""
from .clip_sp import (CLIPSPFusion, DualGraphFormerDecoder, MLPMultiLabelDecoder,
                      scene_attention_targets, select_scene_labels)
from .convformer import ConvFormerNeck
from .denseclip import ContextDecoder, DenseCLIPFusion

__all__ = ['CLIPSPFusion', 'ContextDecoder', 'ConvFormerNeck', 'DenseCLIPFusion',
           'DualGraphFormerDecoder', 'MLPMultiLabelDecoder', 'scene_attention_targets',
           'select_scene_labels']
