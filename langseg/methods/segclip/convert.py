"""SegCLIP's released model -> langseg (Luo et al., ICML 2023, arXiv:2211.14813;
github.com/ArrowLuo/SegCLIP).

The official model keeps CLIP under ``clip.`` with the image tower's blocks split into
``transformer.layers0`` (before the plugged group module), ``transformer.layers2`` (after
it) and ``transformer.layers_mae2`` (the reconstruction branch's two new blocks), the group
module as ``transformer.semantic_layer2`` (cross-attention with a packed ``in_proj``,
grouped ``k_conv`` / ``v_conv``, ``proj_o``), Eq. 4's mapping as
``transformer.reconstruct_layer2.rec_proj_a.a_fc``, and MAE's decoder as
``vis_mae_decoder`` (timm-style blocks with a packed ``qkv``). The release is a whole
pretraining model, so it converts to the keys of langseg's ``SegCLIPPretrainer``: the
zero-shot segmentor's under ``segmentor.`` (``segmentor.backbone.visual.transformer.resblocks``
0 .. plug - 1, then the blocks after the plug; ``segmentor.backbone.group`` with separate
q/k/v projections: the packed ``in_proj`` is split in three; ``segmentor.text_encoder.text.*``;
``segmentor.logit_scale``) and the MAE branch's as ``reconstruction.*``. It loads strictly
into a pretraining config, and into a zero-shot config by the checkpoint rule
(``segmentor.`` removed, ``reconstruction.*`` dropped: :mod:`.zeroshot`).
``vis_mae_decoder.decoder_pos_embed`` (MAE's fixed sin-cos table) is recomputed by
langseg and dropped.
"""
from __future__ import annotations

import re

import torch

from ...converters.common import ConversionError, convert_state_dict, rename
from .zeroshot import PRETRAIN_PREFIX

_V = r'clip\.visual\.'
_T = _V + r'transformer\.'
_G = _T + r'semantic_layer2\.'
_BLOCK = r'(ln_1|ln_2)\.(weight|bias)|attn\.(in_proj_weight|in_proj_bias)|' \
         r'attn\.out_proj\.(weight|bias)|mlp\.(c_fc|c_proj)\.(weight|bias)'

SEGCLIP_RULES = [
    (r'clip\.logit_scale', r'logit_scale'),
    (_V + r'(class_embedding|positional_embedding|proj|conv1\.weight)',
     r'backbone.visual.\1'),
    (_V + r'((?:ln_pre|ln_post)\.(?:weight|bias))', r'backbone.visual.\1'),
    (_T + r'layers0\.(\d+)\.(.+)', r'backbone.visual.transformer.resblocks.\1.\2'),
    (_T + r'layers2\.(\d+)\.(.+)', r'AFTER_PLUG.\1.\2'),          # offset added below
    (_T + r'layers_mae2\.(\d+)\.(.+)', r'reconstruction.encoder.\1.\2'),
    (_G + r'semantic_center', r'backbone.group.centers'),
    (_G + r'norm\.(weight|bias)', r'backbone.group.norm_x.\1'),
    (_G + r'cross_att\.(\d+)\.attn\.in_proj_(weight|bias)',
     r'SPLIT.backbone.group.cross_attn.\1.attn.\2'),
    (_G + r'cross_att\.(\d+)\.attn\.out_proj\.(weight|bias)',
     r'backbone.group.cross_attn.\1.attn.out_proj.\2'),
    (_G + r'cross_att\.(\d+)\.ln_x\.(weight|bias)', r'backbone.group.cross_attn.\1.norm_q.\2'),
    (_G + r'cross_att\.(\d+)\.ln_k\.(weight|bias)', r'backbone.group.cross_attn.\1.norm_kv.\2'),
    (_G + r'cross_att\.(\d+)\.ln_2\.(weight|bias)',
     r'backbone.group.cross_attn.\1.norm_mlp.\2'),
    (_G + r'cross_att\.(\d+)\.mlp\.c_fc\.(weight|bias)', r'backbone.group.cross_attn.\1.mlp.0.\2'),
    (_G + r'cross_att\.(\d+)\.mlp\.c_proj\.(weight|bias)',
     r'backbone.group.cross_attn.\1.mlp.2.\2'),
    (_G + r'cross_ln\.(weight|bias)', r'backbone.group.norm_centers.\1'),
    (_G + r'k_conv\.weight', r'backbone.group.key.weight'),
    (_G + r'v_conv\.weight', r'backbone.group.value.weight'),
    (_G + r'k_ln\.(weight|bias)', r'backbone.group.norm_key.\1'),
    (_G + r'proj_o\.ln\.(weight|bias)', r'backbone.group.norm_region.\1'),
    (_G + r'proj_o\.mlp\.fc1\.(weight|bias)', r'backbone.group.region_mlp.0.0.\1'),
    (_G + r'proj_o\.mlp\.fc2\.(weight|bias)', r'backbone.group.region_mlp.0.2.\1'),
    (_T + r'reconstruct_layer2\.rec_proj_a\.a_fc\.(weight|bias)',
     r'reconstruction.assign_linear.\1'),
    (r'vis_mae_decoder\.decoder_embed\.(weight|bias)', r'reconstruction.embed.\1'),
    (r'vis_mae_decoder\.mask_token', r'reconstruction.mask_token'),
    (r'vis_mae_decoder\.decoder_blocks\.(\d+)\.norm1\.(weight|bias)',
     r'reconstruction.decoder.\1.ln_1.\2'),
    (r'vis_mae_decoder\.decoder_blocks\.(\d+)\.norm2\.(weight|bias)',
     r'reconstruction.decoder.\1.ln_2.\2'),
    (r'vis_mae_decoder\.decoder_blocks\.(\d+)\.attn\.qkv\.(weight|bias)',
     r'reconstruction.decoder.\1.attn.in_proj_\2'),
    (r'vis_mae_decoder\.decoder_blocks\.(\d+)\.attn\.proj\.(weight|bias)',
     r'reconstruction.decoder.\1.attn.out_proj.\2'),
    (r'vis_mae_decoder\.decoder_blocks\.(\d+)\.mlp\.fc1\.(weight|bias)',
     r'reconstruction.decoder.\1.mlp.c_fc.\2'),
    (r'vis_mae_decoder\.decoder_blocks\.(\d+)\.mlp\.fc2\.(weight|bias)',
     r'reconstruction.decoder.\1.mlp.c_proj.\2'),
    (r'vis_mae_decoder\.decoder_norm\.(weight|bias)', r'reconstruction.norm.\1'),
    (r'vis_mae_decoder\.decoder_pred\.(weight|bias)', r'reconstruction.predict.\1'),
    (r'clip\.(positional_embedding|text_projection|token_embedding\.weight|'
     r'ln_final\.(?:weight|bias))', r'text_encoder.text.\1'),
    (r'clip\.(transformer\.resblocks\.\d+\.(?:' + _BLOCK + r'))', r'text_encoder.text.\1'),
]
SEGCLIP_SKIP = [r'vis_mae_decoder\.decoder_pos_embed']


def convert_segclip(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The official SegCLIP state dict -> langseg's ``SegCLIPPretrainer`` keys (see the
    module docstring)."""
    renamed = convert_state_dict(state, SEGCLIP_RULES, 'SegCLIP checkpoint', SEGCLIP_SKIP)
    plug = 1 + max((int(k.split('.')[4]) for k in renamed
                    if k.startswith('backbone.visual.transformer.resblocks.')), default=-1)
    if plug == 0:
        raise ConversionError('SegCLIP checkpoint: no clip.visual.transformer.layers0 '
                              'blocks: expected the official SegCLIP model')
    out = {}
    for key, value in renamed.items():
        if key.startswith('AFTER_PLUG.'):
            _, index, rest = key.split('.', 2)
            key = f'backbone.visual.transformer.resblocks.{plug + int(index)}.{rest}'
        elif key.startswith('SPLIT.'):
            base, kind = key[len('SPLIT.'):].rsplit('.', 1)         # weight | bias
            for name, part in zip(('q_proj', 'k_proj', 'v_proj'), value.chunk(3, dim=0)):
                out[f'{base}.{name}.{kind}'] = part.clone()
            continue
        out[key] = value
    return {(k if k.startswith('reconstruction.') else PRETRAIN_PREFIX + k): v
            for k, v in out.items()}


_G_OUT = 'clip.visual.transformer.semantic_layer2.'
#: langseg key (regex) -> official key, the inverse of :data:`SEGCLIP_RULES` (the blocks
#: and the split cross-attention projections are handled in :func:`export_segclip`).
SEGCLIP_EXPORT_RULES = [
    (r'logit_scale', r'clip.logit_scale'),
    (r'backbone\.visual\.(class_embedding|positional_embedding|proj|conv1\.weight|'
     r'ln_pre\..+|ln_post\..+)', r'clip.visual.\1'),
    (r'reconstruction\.encoder\.(\d+)\.(.+)', r'clip.visual.transformer.layers_mae2.\1.\2'),
    (r'backbone\.group\.centers', _G_OUT + 'semantic_center'),
    (r'backbone\.group\.norm_x\.(.+)', _G_OUT + r'norm.\1'),
    (r'backbone\.group\.cross_attn\.(\d+)\.attn\.out_proj\.(.+)',
     _G_OUT + r'cross_att.\1.attn.out_proj.\2'),
    (r'backbone\.group\.cross_attn\.(\d+)\.norm_q\.(.+)', _G_OUT + r'cross_att.\1.ln_x.\2'),
    (r'backbone\.group\.cross_attn\.(\d+)\.norm_kv\.(.+)', _G_OUT + r'cross_att.\1.ln_k.\2'),
    (r'backbone\.group\.cross_attn\.(\d+)\.norm_mlp\.(.+)', _G_OUT + r'cross_att.\1.ln_2.\2'),
    (r'backbone\.group\.cross_attn\.(\d+)\.mlp\.0\.(.+)', _G_OUT + r'cross_att.\1.mlp.c_fc.\2'),
    (r'backbone\.group\.cross_attn\.(\d+)\.mlp\.2\.(.+)',
     _G_OUT + r'cross_att.\1.mlp.c_proj.\2'),
    (r'backbone\.group\.norm_centers\.(.+)', _G_OUT + r'cross_ln.\1'),
    (r'backbone\.group\.key\.weight', _G_OUT + 'k_conv.weight'),
    (r'backbone\.group\.value\.weight', _G_OUT + 'v_conv.weight'),
    (r'backbone\.group\.norm_key\.(.+)', _G_OUT + r'k_ln.\1'),
    (r'backbone\.group\.norm_region\.(.+)', _G_OUT + r'proj_o.ln.\1'),
    (r'backbone\.group\.region_mlp\.0\.0\.(.+)', _G_OUT + r'proj_o.mlp.fc1.\1'),
    (r'backbone\.group\.region_mlp\.0\.2\.(.+)', _G_OUT + r'proj_o.mlp.fc2.\1'),
    (r'reconstruction\.assign_linear\.(.+)',
     r'clip.visual.transformer.reconstruct_layer2.rec_proj_a.a_fc.\1'),
    (r'reconstruction\.embed\.(.+)', r'vis_mae_decoder.decoder_embed.\1'),
    (r'reconstruction\.mask_token', r'vis_mae_decoder.mask_token'),
    (r'reconstruction\.decoder\.(\d+)\.ln_1\.(.+)', r'vis_mae_decoder.decoder_blocks.\1.norm1.\2'),
    (r'reconstruction\.decoder\.(\d+)\.ln_2\.(.+)', r'vis_mae_decoder.decoder_blocks.\1.norm2.\2'),
    (r'reconstruction\.decoder\.(\d+)\.attn\.in_proj_(weight|bias)',
     r'vis_mae_decoder.decoder_blocks.\1.attn.qkv.\2'),
    (r'reconstruction\.decoder\.(\d+)\.attn\.out_proj\.(.+)',
     r'vis_mae_decoder.decoder_blocks.\1.attn.proj.\2'),
    (r'reconstruction\.decoder\.(\d+)\.mlp\.c_fc\.(.+)', r'vis_mae_decoder.decoder_blocks.\1.mlp.fc1.\2'),
    (r'reconstruction\.decoder\.(\d+)\.mlp\.c_proj\.(.+)',
     r'vis_mae_decoder.decoder_blocks.\1.mlp.fc2.\2'),
    (r'reconstruction\.norm\.(.+)', r'vis_mae_decoder.decoder_norm.\1'),
    (r'reconstruction\.predict\.(.+)', r'vis_mae_decoder.decoder_pred.\1'),
    (r'text_encoder\.text\.(.+)', r'clip.\1'),
]


def export_segclip(state: dict[str, torch.Tensor], plug_layer: int
                   ) -> dict[str, torch.Tensor]:
    """A langseg SegCLIP state dict (``SegCLIPPretrainer``'s, or the zero-shot
    ``SegCLIP``'s without the reconstruction branch) -> the official layout (for round-trip
    tests and to hand a model back to the official evaluation); ``decoder_pos_embed`` is
    not written."""
    out = {}
    packed: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key.startswith(PRETRAIN_PREFIX):
            key = key[len(PRETRAIN_PREFIX):]
        m = re.fullmatch(r'backbone\.group\.cross_attn\.(\d+)\.attn\.([qkv])_proj\.'
                         r'(weight|bias)', key)
        if m:
            packed.setdefault(f'{m.group(1)}.{m.group(3)}', {})[m.group(2)] = value
            continue
        m = re.fullmatch(r'backbone\.visual\.transformer\.resblocks\.(\d+)\.(.+)', key)
        if m:
            i = int(m.group(1))
            where = f'layers0.{i}' if i < plug_layer else f'layers2.{i - plug_layer}'
            out[f'clip.visual.transformer.{where}.{m.group(2)}'] = value
            continue
        official = rename(key, SEGCLIP_EXPORT_RULES)
        if official is None:
            raise ConversionError(f'langseg SegCLIP key {key} has no official name')
        out[official] = value
    for name, parts in packed.items():
        index, kind = name.split('.')
        out[f'{_G_OUT}cross_att.{index}.attn.in_proj_{kind}'] = \
            torch.cat([parts['q'], parts['k'], parts['v']], dim=0)
    return out
