"""DenseCLIP's released segmentation checkpoints -> langseg (Rao et al., CVPR 2022,
arXiv:2112.01518; github.com/raoyongming/DenseCLIP, ``segmentation/denseclip``).

The official segmentor keeps ``backbone`` (CLIP ResNet with ``attnpool``, or the CLIP ViT
with ``fpn1..fpn4``), ``text_encoder`` (CLIP's text transformer with a 13-row positional
embedding), ``context_decoder`` (``decoder.N`` layers whose attention projection is
``proj``), ``neck`` / ``decode_head`` (mmseg's FPN / FPNHead) and the top-level
``contexts`` and ``gamma``. langseg's ``LanguageGuidedEncoderDecoder`` keeps the same
parts under the open_clip tower (``backbone.visual``, ``text_encoder.text``), the fusion
module (``fusion.context_decoder.layers.N``, ``fusion.gamma``) and the text encoder's
``contexts``.

The text positional embedding: DenseCLIP stores the first 13 rows of CLIP's 77 (context
length 13); langseg keeps the tower's 77 rows and reads only the first 13, so the
conversion pads rows 13..76 with zeros (never read) and :func:`export_denseclip` cuts them
again.
"""
from __future__ import annotations

import torch

from ...converters.common import convert_state_dict, rename

#: official key (regex) -> langseg key, in order (the first full match wins).
DENSECLIP_RULES = [
    # CLIP ViT backbone: the tower under backbone.visual, the adapters stay
    (r'backbone\.(fpn[1-4](?:\.\d+)?\.(?:weight|bias|running_mean|running_var|'
     r'num_batches_tracked))', r'backbone.\1'),
    (r'backbone\.(conv1\.weight|class_embedding|positional_embedding|proj)',
     r'backbone.visual.\1'),
    (r'backbone\.((?:ln_pre|ln_post)\.(?:weight|bias))', r'backbone.visual.\1'),
    (r'backbone\.(transformer\.resblocks\.\d+\..+)', r'backbone.visual.\1'),
    # CLIP ResNet backbone: stem, stages, attention pool
    (r'backbone\.((?:conv[123]|bn[123])\..+)', r'backbone.visual.\1'),
    (r'backbone\.(layer[1-4]\..+)', r'backbone.visual.\1'),
    (r'backbone\.(attnpool\.(?:positional_embedding|[qkvc]_proj\.(?:weight|bias)))',
     r'backbone.visual.\1'),
    # text encoder (frozen CLIP transformer) and the learnable contexts
    (r'text_encoder\.((?:positional_embedding|text_projection|token_embedding\.weight|'
     r'ln_final\.(?:weight|bias)))', r'text_encoder.text.\1'),
    (r'text_encoder\.(transformer\.resblocks\.\d+\..+)', r'text_encoder.text.\1'),
    (r'contexts', r'text_encoder.contexts'),
    # context decoder and gamma
    (r'gamma', r'fusion.gamma'),
    (r'context_decoder\.((?:memory_proj|text_proj|out_proj)\.\d+\.(?:weight|bias))',
     r'fusion.context_decoder.\1'),
    (r'context_decoder\.decoder\.(\d+)\.(self_attn|cross_attn)\.([qkv]_proj\.weight)',
     r'fusion.context_decoder.layers.\1.\2.\3'),
    (r'context_decoder\.decoder\.(\d+)\.(self_attn|cross_attn)\.proj\.(weight|bias)',
     r'fusion.context_decoder.layers.\1.\2.out_proj.\3'),
    (r'context_decoder\.decoder\.(\d+)\.((?:norm[123]|mlp\.[03])\.(?:weight|bias))',
     r'fusion.context_decoder.layers.\1.\2'),
    # mmseg's FPN and FPNHead keep their names
    (r'(neck\..+)', r'\1'),
    (r'(decode_head\..+)', r'\1'),
]

_TEXT_POSITIONS = 'text_encoder.text.positional_embedding'


def convert_denseclip(state: dict[str, torch.Tensor], text_positions: int = 77
                      ) -> dict[str, torch.Tensor]:
    """An official DenseCLIP segmentation state dict -> langseg's."""
    out = convert_state_dict(state, DENSECLIP_RULES, 'DenseCLIP checkpoint')
    pos = out.get(_TEXT_POSITIONS)
    if pos is not None and pos.shape[0] < text_positions:
        pad = pos.new_zeros(text_positions - pos.shape[0], pos.shape[1])
        out[_TEXT_POSITIONS] = torch.cat([pos, pad])
    return out


def export_denseclip(state: dict[str, torch.Tensor], context_length: int = 13
                     ) -> dict[str, torch.Tensor]:
    """langseg's state dict -> the official layout (the inverse of the rules)."""
    out = {}
    for key, value in state.items():
        out[rename(key, _INVERSE)] = value[:context_length] if key == _TEXT_POSITIONS \
            else value
    return out


_INVERSE = [
    (r'backbone\.visual\.(.+)', r'backbone.\1'),
    (r'text_encoder\.text\.(.+)', r'text_encoder.\1'),
    (r'text_encoder\.contexts', r'contexts'),
    (r'fusion\.gamma', r'gamma'),
    (r'fusion\.context_decoder\.layers\.(\d+)\.(self_attn|cross_attn)\.out_proj\.(.+)',
     r'context_decoder.decoder.\1.\2.proj.\3'),
    (r'fusion\.context_decoder\.layers\.(\d+)\.(.+)', r'context_decoder.decoder.\1.\2'),
    (r'fusion\.context_decoder\.(.+)', r'context_decoder.\1'),
    (r'(.+)', r'\1'),
]

