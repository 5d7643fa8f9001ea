"""Method necks: the fusion modules between backbone and decoder."""
from .base_fusion import BaseFusion, FusionOutput, TrainState
from .clip_sp import (CLIPSPFusion, DualGraphFormerDecoder, MLPMultiLabelDecoder,
                      select_scene_labels)
from .convformer import ConvFormerNeck
from .denseclip import ContextDecoder, DenseCLIPFusion

__all__ = ['BaseFusion', 'FusionOutput', 'TrainState', 'CLIPSPFusion', 'ContextDecoder', 'ConvFormerNeck', 'DenseCLIPFusion',
           'DualGraphFormerDecoder', 'MLPMultiLabelDecoder',
           'select_scene_labels']
