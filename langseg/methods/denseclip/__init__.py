"""DenseCLIP (Rao et al., "DenseCLIP: Language-Guided Dense Prediction with Context-Aware
Prompting", CVPR 2022, arXiv:2112.01518): the context-decoder fusion, the text encoder with
learnable contexts, and the converter of the released checkpoints."""
from .context_text_encoder import LearnableContextTextEncoder
from .convert import DENSECLIP_RULES, convert_denseclip, export_denseclip
from .fusion import ContextDecoder, DenseCLIPFusion, DenseCLIPOutput

__all__ = ['ContextDecoder', 'DENSECLIP_RULES', 'DenseCLIPFusion', 'DenseCLIPOutput',
           'LearnableContextTextEncoder', 'convert_denseclip', 'export_denseclip']
