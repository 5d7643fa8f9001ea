"""THE shared CLIP layer: architectures, weight loading, tokenizer, prompts, text encoder.

Every method builds its CLIP parts from here; nothing else loads CLIP weights.
"""
from .architectures import TINY_CLIP_ARCHITECTURES, get_clip_config, is_resnet
from .factory import build_text_tower, build_visual_tower, load_pretrained_tower
from .loading import (load_clip_state_dict, load_tower_weights,
                      resolve_pretrained, tower_state_dict)
from .prompts import DEFAULT_TEMPLATE, resolve_templates, split_synonyms
from .text_encoder import (CLIPClassTextEncoder, FrozenCLIPTextEncoder, class_prompt_embeddings,
                           encode_text_tokens, resolve_class_names, text_tower_features,
                           tokenize)
from .vit_tokens import embed_vit_tokens

__all__ = [
    'CLIPClassTextEncoder', 'DEFAULT_TEMPLATE', 'FrozenCLIPTextEncoder', 'class_prompt_embeddings',
    'text_tower_features', 'TINY_CLIP_ARCHITECTURES',
    'build_text_tower', 'build_visual_tower', 'embed_vit_tokens', 'encode_text_tokens', 'get_clip_config', 'is_resnet',
    'load_clip_state_dict', 'load_pretrained_tower', 'load_tower_weights',
    'resolve_class_names', 'resolve_pretrained',
    'resolve_templates', 'split_synonyms', 'tokenize', 'tower_state_dict'
]
