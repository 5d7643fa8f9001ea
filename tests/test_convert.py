"""Checkpoint converters: a fake official state dict with the official key layout and
shapes (written here from the official code's module names, tiny widths) converts, loads
strictly into the langseg config, round-trips back to the same official keys and tensors,
and an unknown key is refused by the tool with one line."""
import os.path as osp

import pytest
import torch
from mmengine.registry import init_default_scope

import langseg  # noqa: F401
from langseg.converters import ConversionError
from langseg.methods.denseclip.convert import convert_denseclip, export_denseclip
from langseg.methods.segclip import convert_segclip, export_segclip
from langseg.utils.state_dict import load_state_dict_checked
from mmseg.registry import MODELS

from .conftest import REPO, run_tool, write_config

TINY_TEXT = dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2)
TINY_RN = dict(embed_dim=32, vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8,
                                             head_width=16), text_cfg=TINY_TEXT)
TINY_VIT = dict(embed_dim=32, vision_cfg=dict(image_size=64, layers=4, width=32,
                                              patch_size=16, head_width=16),
                text_cfg=TINY_TEXT)
DENSECLIP_BODY = f"""
model = dict(
    class_names=['cat', 'dog', 'sky'],
    backbone=dict(arch='tiny-rn', pretrained=None, input_resolution=64),
    text_encoder=dict(arch='tiny-rn', pretrained=None),
    fusion=dict(context_decoder=dict(width=16, num_heads=2, num_layers=2)),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=16),
    decode_head=dict(in_channels=[16, 16, 16, 16], channels=16, num_classes=3,
                     norm_cfg=dict(type='BN', requires_grad=True)))
"""


def _clip_text(prefix: str, width: int, layers: int, positions: int, out_dim: int) -> dict:
    """OpenAI CLIP's text transformer keys (also DenseCLIP's and SegCLIP's)."""
    state = {f'{prefix}positional_embedding': torch.randn(positions, width),
             f'{prefix}token_embedding.weight': torch.randn(49408, width),
             f'{prefix}ln_final.weight': torch.randn(width),
             f'{prefix}ln_final.bias': torch.randn(width),
             f'{prefix}text_projection': torch.randn(width, out_dim)}
    for i in range(layers):
        state.update(_resblock(f'{prefix}transformer.resblocks.{i}.', width))
    return state


def _resblock(prefix: str, width: int) -> dict:
    return {f'{prefix}ln_1.weight': torch.randn(width), f'{prefix}ln_1.bias': torch.randn(width),
            f'{prefix}attn.in_proj_weight': torch.randn(3 * width, width),
            f'{prefix}attn.in_proj_bias': torch.randn(3 * width),
            f'{prefix}attn.out_proj.weight': torch.randn(width, width),
            f'{prefix}attn.out_proj.bias': torch.randn(width),
            f'{prefix}ln_2.weight': torch.randn(width), f'{prefix}ln_2.bias': torch.randn(width),
            f'{prefix}mlp.c_fc.weight': torch.randn(4 * width, width),
            f'{prefix}mlp.c_fc.bias': torch.randn(4 * width),
            f'{prefix}mlp.c_proj.weight': torch.randn(width, 4 * width),
            f'{prefix}mlp.c_proj.bias': torch.randn(width)}


def official_denseclip_rn(langseg_model) -> dict:
    """DenseCLIP's segmentation checkpoint layout (segmentation/denseclip/models.py,
    denseclip.py) for the tiny RN: the backbone's names are OpenAI CLIP's ModifiedResNet
    names under ``backbone.``, the text encoder keeps 13 positions, the context decoder's
    layers are ``decoder.N`` with ``proj``; neck/decode_head are mmseg's."""
    torch.manual_seed(0)
    state = {}
    own = langseg_model.state_dict()
    for key, value in own.items():       # the parts whose names mmseg / CLIP fix
        if key.startswith('backbone.visual.'):
            state['backbone.' + key[len('backbone.visual.'):]] = torch.randn_like(value.float()) \
                if value.is_floating_point() else value.clone()
        elif key.startswith(('neck.', 'decode_head.')):
            state[key] = torch.randn_like(value.float()) if value.is_floating_point() \
                else value.clone()
    state.update(_clip_text('text_encoder.', 32, 2, 13, 32))
    state['contexts'] = torch.randn(1, 8, 32)
    state['gamma'] = torch.randn(32)
    width, dim = 16, 32
    for part, shapes in (('memory_proj', [(dim, ), (width, dim), (width, )]),
                         ('text_proj', [(dim, ), (width, dim)]),
                         ('out_proj', [(width, ), (dim, width)])):
        for i, shape in enumerate(shapes):
            state[f'context_decoder.{part}.{i}.weight'] = torch.randn(shape)
            state[f'context_decoder.{part}.{i}.bias'] = torch.randn(shape[0])
    for n in range(2):
        p = f'context_decoder.decoder.{n}.'
        for attn in ('self_attn', 'cross_attn'):
            for proj in ('q_proj', 'k_proj', 'v_proj'):
                state[f'{p}{attn}.{proj}.weight'] = torch.randn(width, width)  # no bias
            state[f'{p}{attn}.proj.weight'] = torch.randn(width, width)
            state[f'{p}{attn}.proj.bias'] = torch.randn(width)
        for norm in ('norm1', 'norm2', 'norm3'):
            state[f'{p}{norm}.weight'] = torch.randn(width)
            state[f'{p}{norm}.bias'] = torch.randn(width)
        state[f'{p}mlp.0.weight'] = torch.randn(4 * width, width)
        state[f'{p}mlp.0.bias'] = torch.randn(4 * width)
        state[f'{p}mlp.3.weight'] = torch.randn(width, 4 * width)
        state[f'{p}mlp.3.bias'] = torch.randn(width)
    return state


def build(config: str):
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    init_default_scope('mmseg')
    return MODELS.build(cfg.model)


def test_denseclip_conversion_round_trip_and_strict_load(tmp_path):
    config = write_config(str(tmp_path / 'd.py'), osp.join(
        REPO, 'configs/denseclip/denseclip_clip-r50_8xb4-80k_ade20k-512x512.py'),
        DENSECLIP_BODY)
    model = build(config)
    official = official_denseclip_rn(model)
    converted = convert_denseclip(official)
    report = load_state_dict_checked(model, converted, 'the tiny DenseCLIP')
    assert not any(report[k] for k in ('missing', 'unexpected', 'mismatched'))
    torch.testing.assert_close(model.fusion.context_decoder.layers[1].cross_attn.out_proj.weight,
                               official['context_decoder.decoder.1.cross_attn.proj.weight'])
    torch.testing.assert_close(model.text_encoder.text.positional_embedding[:13],
                               official['text_encoder.positional_embedding'])
    back = export_denseclip(model.state_dict())
    assert set(back) == set(official)
    for key in official:
        torch.testing.assert_close(back[key], official[key], msg=key)


def test_denseclip_vit_adapter_keys_are_placed():
    state = {'backbone.fpn1.0.weight': torch.zeros(4), 'backbone.fpn1.4.bias': torch.zeros(4),
             'backbone.fpn3.weight': torch.zeros(4), 'backbone.fpn4.0.bias': torch.zeros(4),
             'backbone.transformer.resblocks.0.ln_1.weight': torch.zeros(4),
             'backbone.class_embedding': torch.zeros(4), 'backbone.proj': torch.zeros(4, 2)}
    out = convert_denseclip(state)
    assert set(out) == {'backbone.fpn1.0.weight', 'backbone.fpn1.4.bias',
                        'backbone.fpn3.weight', 'backbone.fpn4.0.bias',
                        'backbone.visual.transformer.resblocks.0.ln_1.weight',
                        'backbone.visual.class_embedding', 'backbone.visual.proj'}


def official_segclip(plug: int, layers: int, centers: int, width: int, heads: int,
                     dec: int, dec_depth: int) -> dict:
    """SegCLIP's released layout (modules/module_seg_vit.py, module_mae.py, modeling.py)."""
    torch.manual_seed(1)
    t = 'clip.visual.transformer.'
    g = t + 'semantic_layer2.'
    s = {'clip.logit_scale': torch.tensor(4.6),
         'clip.visual.class_embedding': torch.randn(width),
         'clip.visual.positional_embedding': torch.randn(17, width),
         'clip.visual.proj': torch.randn(width, 32),
         'clip.visual.conv1.weight': torch.randn(width, 3, 16, 16)}
    for ln in ('ln_pre', 'ln_post'):
        s[f'clip.visual.{ln}.weight'] = torch.randn(width)
        s[f'clip.visual.{ln}.bias'] = torch.randn(width)
    for i in range(plug):
        s.update(_resblock(f'{t}layers0.{i}.', width))
    for i in range(layers - plug):
        s.update(_resblock(f'{t}layers2.{i}.', width))
    for i in range(2):
        s.update(_resblock(f'{t}layers_mae2.{i}.', width))
    s[g + 'semantic_center'] = torch.randn(centers, width)
    for ln in ('norm', 'cross_ln', 'k_ln', 'proj_o.ln'):
        s[f'{g}{ln}.weight'] = torch.randn(width)
        s[f'{g}{ln}.bias'] = torch.randn(width)
    for i in range(2):
        block = _resblock(f'{g}cross_att.{i}.', width)
        for key in list(block):
            if '.ln_1.' in key:                      # the cross blocks name theirs ln_x/ln_k
                block[key.replace('.ln_1.', '.ln_x.')] = block.pop(key)
        block[f'{g}cross_att.{i}.ln_k.weight'] = torch.randn(width)
        block[f'{g}cross_att.{i}.ln_k.bias'] = torch.randn(width)
        s.update(block)
    s[g + 'k_conv.weight'] = torch.randn(width, width // heads, 1)
    s[g + 'v_conv.weight'] = torch.randn(width, width // heads, 1)
    s[g + 'proj_o.mlp.fc1.weight'] = torch.randn(4 * width, width)
    s[g + 'proj_o.mlp.fc1.bias'] = torch.randn(4 * width)
    s[g + 'proj_o.mlp.fc2.weight'] = torch.randn(width, 4 * width)
    s[g + 'proj_o.mlp.fc2.bias'] = torch.randn(width)
    s[t + 'reconstruct_layer2.rec_proj_a.a_fc.weight'] = torch.randn(centers, centers)
    s[t + 'reconstruct_layer2.rec_proj_a.a_fc.bias'] = torch.randn(centers)
    m = 'vis_mae_decoder.'
    s[m + 'decoder_embed.weight'] = torch.randn(dec, width)
    s[m + 'decoder_embed.bias'] = torch.randn(dec)
    s[m + 'mask_token'] = torch.randn(1, 1, dec)
    s[m + 'decoder_pos_embed'] = torch.randn(1, 17, dec)
    for i in range(dec_depth):
        p = f'{m}decoder_blocks.{i}.'
        s.update({p + 'norm1.weight': torch.randn(dec), p + 'norm1.bias': torch.randn(dec),
                  p + 'attn.qkv.weight': torch.randn(3 * dec, dec),
                  p + 'attn.qkv.bias': torch.randn(3 * dec),
                  p + 'attn.proj.weight': torch.randn(dec, dec),
                  p + 'attn.proj.bias': torch.randn(dec),
                  p + 'norm2.weight': torch.randn(dec), p + 'norm2.bias': torch.randn(dec),
                  p + 'mlp.fc1.weight': torch.randn(4 * dec, dec),
                  p + 'mlp.fc1.bias': torch.randn(4 * dec),
                  p + 'mlp.fc2.weight': torch.randn(dec, 4 * dec),
                  p + 'mlp.fc2.bias': torch.randn(dec)})
    s[m + 'decoder_norm.weight'] = torch.randn(dec)
    s[m + 'decoder_norm.bias'] = torch.randn(dec)
    s[m + 'decoder_pred.weight'] = torch.randn(16 * 16 * 3, dec)
    s[m + 'decoder_pred.bias'] = torch.randn(16 * 16 * 3)
    s.update(_clip_text('clip.', 32, 2, 77, 32))
    return s


def test_segclip_conversion_splits_in_proj_round_trips_and_loads_strictly(tmp_path):
    from langseg.methods.segclip import SegCLIP, SegCLIPPretrainer
    model = SegCLIPPretrainer(backbone=dict(arch=TINY_VIT, plug_layer=3, num_centers=4),
                              decoder=dict(decoder_dim=16, decoder_depth=2, decoder_heads=2,
                                           encoder_depth=2))
    official = official_segclip(plug=3, layers=4, centers=4, width=32, heads=2, dec=16,
                                dec_depth=2)
    converted = convert_segclip(official)
    load_state_dict_checked(model, converted, 'the tiny SegCLIP pretraining model')
    # the zero-shot segmentor loads the same file by the checkpoint rule (segmentor.* -> *,
    # the reconstruction branch dropped), strictly
    zero_shot = SegCLIP(backbone=dict(arch=TINY_VIT, plug_layer=3, num_centers=4))
    report = load_state_dict_checked(zero_shot, converted, 'the tiny zero-shot SegCLIP')
    assert not any(report.values())
    torch.testing.assert_close(zero_shot.backbone.group.centers,
                               official['clip.visual.transformer.semantic_layer2.'
                                        'semantic_center'])
    torch.testing.assert_close(zero_shot.logit_scale, official['clip.logit_scale'])
    model = model.segmentor
    packed = official['clip.visual.transformer.semantic_layer2.cross_att.1.attn.in_proj_weight']
    attn = model.backbone.group.cross_attn[1].attn
    torch.testing.assert_close(attn.q_proj.weight, packed[:32])
    torch.testing.assert_close(attn.k_proj.weight, packed[32:64])
    torch.testing.assert_close(attn.v_proj.weight, packed[64:])
    torch.testing.assert_close(       # layers2.0 is the first block after the plug
        model.backbone.visual.transformer.resblocks[3].ln_1.weight,
        official['clip.visual.transformer.layers2.0.ln_1.weight'])
    back = export_segclip(converted, plug_layer=3)
    expected = {k for k in official if not k.endswith('decoder_pos_embed')}
    assert set(back) == expected
    for key in expected:
        torch.testing.assert_close(back[key], official[key], msg=key)


def test_unknown_keys_are_refused_by_the_converters_and_the_tool(tmp_path):
    with pytest.raises(ConversionError, match='no conversion rule places the keys '
                                              'auxiliary_head.conv_seg.weight'):
        convert_denseclip({'auxiliary_head.conv_seg.weight': torch.zeros(1),
                           'gamma': torch.zeros(1)})
    with pytest.raises(ConversionError, match='clip.visual.transformer.extra_layer'):
        convert_segclip({'clip.visual.transformer.extra_layer.weight': torch.zeros(1)})
    src = tmp_path / 'official.pth'
    torch.save({'state_dict': {'gamma': torch.zeros(3), 'unknown.weight': torch.zeros(2)}},
               src)
    dst = tmp_path / 'out.pth'
    proc = run_tool('convert_checkpoint.py', 'denseclip', str(src), str(dst))
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: DenseCLIP checkpoint: no conversion rule places the '
                           'keys unknown.weight'), last
    assert not dst.exists() and not list(tmp_path.glob('out.pth.partial*'))


def test_the_tool_converts_and_checks_against_a_config(tmp_path):
    config = write_config(str(tmp_path / 'd.py'), osp.join(
        REPO, 'configs/denseclip/denseclip_clip-r50_8xb4-80k_ade20k-512x512.py'),
        DENSECLIP_BODY)
    official = official_denseclip_rn(build(config))
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save({'meta': {}, 'state_dict': {f'module.{k}': v for k, v in official.items()}},
               src)
    proc = run_tool('convert_checkpoint.py', 'denseclip', str(src), str(dst),
                    '--config', config)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'load strictly into' in proc.stdout
    from langseg.engine.checkpoint import check_checkpoint_matches
    check_checkpoint_matches(build(config), str(dst))       # what tools/test.py checks
    official.pop('gamma')
    torch.save(official, src)
    proc = run_tool('convert_checkpoint.py', 'denseclip', str(src), str(dst),
                    '--config', config)
    assert proc.returncode == 2 and 'fusion.gamma' in proc.stderr.strip().splitlines()[-1]
