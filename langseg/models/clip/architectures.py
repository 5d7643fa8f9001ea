"""CLIP architectures are data: open_clip's model configs, plus tiny ones for tests.

An architecture is a plain dict in open_clip's format::

    dict(embed_dim=..., vision_cfg=dict(image_size, layers, width, patch_size, ...),
         text_cfg=dict(context_length, vocab_size, width, heads, layers, ...),
         quick_gelu=False)

A name ('RN50', 'ViT-B-16', 'ViT-H-14', ...) is looked up in open_clip's bundled configs
(no download); any name takes the suffix ``-quickgelu`` (``tiny-vit-quickgelu``), which
sets ``quick_gelu=True`` where open_clip has no such config itself; :data:`TINY_CLIP_ARCHITECTURES` adds random-weight architectures small
enough for CPU tests. Any dict in the same format may be passed instead of a name.
"""
from __future__ import annotations

import copy
from typing import Any

import open_clip

from ...utils.errors import ConfigError, did_you_mean

_QUICKGELU = '-quickgelu'
_TINY_TEXT = dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2)

#: Tiny random architectures for tests and CPU runs.
TINY_CLIP_ARCHITECTURES: dict[str, dict] = {
    # A ModifiedResNet with CLIP's stem, anti-aliased bottlenecks and attention pool.
    'tiny-rn': dict(embed_dim=32,
                    vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8,
                                    head_width=16),
                    text_cfg=_TINY_TEXT),
    # A 4-layer ViT with patch 16.
    'tiny-vit': dict(embed_dim=32,
                     vision_cfg=dict(image_size=64, layers=4, width=32, patch_size=16,
                                     head_width=16),
                     text_cfg=_TINY_TEXT),
    # The text tower only is used by language-guided models of lightweight backbones.
    'tiny-text': dict(embed_dim=32,
                      vision_cfg=dict(image_size=64, layers=2, width=32, patch_size=16,
                                      head_width=16),
                      text_cfg=dict(_TINY_TEXT, width=48, heads=4, layers=3)),
}


def get_clip_config(arch: str | dict[str, Any]) -> dict[str, Any]:
    """A deep copy of the architecture dict named by ``arch`` (or ``arch`` itself)."""
    if isinstance(arch, dict):
        cfg = copy.deepcopy(dict(arch))
    elif arch in TINY_CLIP_ARCHITECTURES:
        cfg = copy.deepcopy(TINY_CLIP_ARCHITECTURES[arch])
    else:
        found = open_clip.get_model_config(arch)
        base = arch[:-len(_QUICKGELU)] if str(arch).endswith(_QUICKGELU) else None
        if found is None and base:
            base_cfg = (TINY_CLIP_ARCHITECTURES.get(base) or open_clip.get_model_config(base))
            found = dict(base_cfg, quick_gelu=True) if base_cfg is not None else None
        if found is None:
            names = list(TINY_CLIP_ARCHITECTURES) + open_clip.list_models()
            raise ConfigError(f'unknown CLIP architecture {arch!r}: expected an open_clip '
                              f'model name (e.g. RN50, ViT-B-16) or a config dict'
                              f'{did_you_mean(arch, names)}')
        cfg = copy.deepcopy(found)
    missing = {'embed_dim', 'vision_cfg', 'text_cfg'} - set(cfg)
    if missing:
        raise ConfigError(f'CLIP architecture dict lacks {sorted(missing)}: expected '
                          "open_clip's format dict(embed_dim, vision_cfg, text_cfg)")
    return cfg


def is_resnet(cfg: dict[str, Any]) -> bool:
    """Whether the vision tower of ``cfg`` is a ModifiedResNet (layers given per stage)."""
    return isinstance(cfg['vision_cfg'].get('layers'), (list, tuple))
