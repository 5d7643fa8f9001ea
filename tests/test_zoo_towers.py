"""Any tower with any training-free method (the zoo's item 3): every method builds on the
open_clip ViTs of OpenAI, OpenCLIP LAION and MetaCLIP (one module, open_clip's
``VisionTransformer``; the tag decides the weights and the input statistics), and refuses a
SigLIP-class tower (a timm trunk without a packed last attention) at build time in one
ConfigError line. Built on the meta device from each method's VOC21 config (no weights are
read or downloaded: the towers load at first use)."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import langseg  # noqa: F401
from langseg.engine.config import strip_pretrained_weights
from langseg.utils.errors import ConfigError

from .conftest import REPO

METHODS = ['maskclip', 'proxyclip', 'sclip', 'clearclip', 'naclip', 'resclip', 'scclip',
           'glaclip', 'trident', 'corrclip']


def voc21_config(method: str) -> str:
    if method == 'maskclip':   # MaskCLIP ships one config (ProxyCLIP's attention='maskclip')
        return osp.join(REPO, 'configs/proxyclip/maskclip_vit-b16_coco-stuff.py')
    found = sorted(glob.glob(osp.join(REPO, 'configs', method, f'{method}_*_voc21.py')))
    assert found, method
    return found[0]


def build(method: str, clip: dict):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    model_cfg = strip_pretrained_weights(Config.fromfile(voc21_config(method)).model.to_dict())
    model_cfg['clip'] = clip
    with torch.device('meta'):
        return MODELS.build(copy.deepcopy(model_cfg))


#: a SigLIP-class open_clip architecture (timm trunk, attention-pool head), tiny
SIGLIP_TINY = dict(
    embed_dim=32, init_logit_bias=-10,
    vision_cfg=dict(image_size=64, timm_model_name='vit_tiny_patch16_224',
                    timm_model_pretrained=False, timm_pool='map', timm_proj='none'),
    text_cfg=dict(context_length=16, vocab_size=32000, width=32, heads=2, layers=1,
                  no_causal_mask=True, proj_bias=True, pool_type='last',
                  norm_kwargs=dict(eps=1e-6)))

TOWERS = {
    'openai': dict(arch='ViT-B-16', pretrained='openai'),
    'laion': dict(arch='ViT-B-16', pretrained='laion2b_s34b_b88k'),
    'metaclip': dict(arch='ViT-B-16-quickgelu', pretrained='metaclip_fullcc'),
}


@pytest.mark.parametrize('tower', sorted(TOWERS))
@pytest.mark.parametrize('method', METHODS)
def test_every_method_builds_on_openai_laion_and_metaclip_vits(method, tower):
    from open_clip.transformer import VisionTransformer
    model = build(method, TOWERS[tower])
    assert isinstance(model.visual, VisionTransformer)
    assert model.clip_pretrained == TOWERS[tower]['pretrained']
    assert model.visual.transformer.resblocks[-1].attn.in_proj_weight.shape[0] == 3 * 768


@pytest.mark.parametrize('method', METHODS)
def test_every_method_refuses_a_siglip_class_tower_in_one_line(method):
    with pytest.raises(ConfigError) as err:
        build(method, dict(arch=SIGLIP_TINY, pretrained=None))
    assert '\n' not in str(err.value)
    assert 'VisionTransformer' in str(err.value) or 'ViT' in str(err.value), str(err.value)
