"""Frozen parts stay in eval mode when the model around them trains
(``langseg.models.layers.frozen.AlwaysEvalMixin``): the CLIP text tower (unless trainable),
both VFM kinds, and the training-free ProxyCLIP as a whole. Checked module by module on
the built models, not through the mixin's own list."""
from __future__ import annotations

from mmengine.registry import init_default_scope
from torch import nn

import langseg  # noqa: F401
from mmseg.registry import MODELS

TINY_VIT = dict(depth=1, embed_dim=32, num_heads=2)


def _modes(module: nn.Module, prefix: str) -> set[bool]:
    """The ``training`` flags of ``prefix`` and everything under it."""
    return {m.training for name, m in module.named_modules()
            if name == prefix or name.startswith(prefix + '.') or prefix == ''}


def _build(cfg: dict) -> nn.Module:
    init_default_scope('mmseg')
    return MODELS.build(cfg)


def test_frozen_text_tower_stays_in_eval_unless_trainable():
    frozen = _build(dict(type='CLIPClassTextEncoder', arch='tiny-text', class_names=['a']))
    frozen.train()
    assert frozen.training and _modes(frozen, 'text') == {False}
    trainable = _build(dict(type='CLIPClassTextEncoder', arch='tiny-text', class_names=['a'],
                            trainable=True))
    trainable.train()
    assert _modes(trainable, '') == {True}
    trainable.eval()
    assert _modes(trainable, '') == {False}


def test_vfms_stay_in_eval():
    timm_vfm = _build(dict(type='TimmVFM', name=None, model_name='vit_small_patch8_224',
                           pretrained=None, model_kwargs=TINY_VIT))
    timm_vfm.train()
    assert timm_vfm.training and _modes(timm_vfm, 'model') == {False}
    layer_vfm = _build(dict(type='ModuleLayerVFM', layer='layer1',
                            module=dict(type='ResNetV1c', depth=18)))
    layer_vfm.train()
    assert layer_vfm.training and _modes(layer_vfm, 'module') == {False}


def test_training_free_proxyclip_is_always_in_eval():
    model = _build(dict(type='ProxyCLIPSegmentor', class_names=['cat', 'dog'],
                        clip=dict(arch='tiny-vit', pretrained=None),
                        vfm=dict(type='TimmVFM', name=None, model_name='vit_small_patch8_224',
                                 pretrained=None, model_kwargs=TINY_VIT),
                        slide_crop=56, slide_stride=28))
    model.train()
    assert _modes(model, '') == {False}
