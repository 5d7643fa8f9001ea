"""One factory for CLIP towers: architecture (name or dict) -> open_clip module.

The towers are open_clip's own modules (``ModifiedResNet``, ``VisionTransformer``,
``TextTransformer``), so CLIP checkpoints load without key mapping; langseg adds dense
forward passes around them (see ``langseg.models.backbones`` and
``langseg.models.clip.text_encoder``).
"""
from __future__ import annotations

from typing import Any

from open_clip.model import _build_text_tower, _build_vision_tower
from torch import nn

from .architectures import get_clip_config
from .loading import clip_weights_quick_gelu, load_clip_state_dict, load_tower_weights, \
    tower_state_dict


def build_visual_tower(arch: str | dict, pretrained: str | None = None,
                       quick_gelu: bool | None = None,
                       image_size: int | None = None) -> nn.Module:
    """Build (not load) the image tower of ``arch``.

    ``image_size`` overrides the resolution the tower's positional embedding is stored for
    (a ViT built for 512 px keeps a 32x32 grid of positions; pretrained 224 px weights are
    resized into it when loaded). ``quick_gelu``: ``None`` decides from the weights, then
    the architecture (``langseg.models.clip.loading``: a file that cannot tell, under an
    architecture that names nothing, gives GELU and one warning).
    """
    cfg = get_clip_config(arch)
    vision_cfg: dict[str, Any] = dict(cfg['vision_cfg'])
    if image_size is not None:
        vision_cfg['image_size'] = image_size
    act = clip_weights_quick_gelu(arch, pretrained, quick_gelu, cfg.get('quick_gelu'))
    return _build_vision_tower(cfg['embed_dim'], vision_cfg, quick_gelu=act)


def build_text_tower(arch: str | dict, pretrained: str | None = None,
                     quick_gelu: bool | None = None) -> nn.Module:
    """Build (not load) the text tower (open_clip ``TextTransformer``) of ``arch``."""
    cfg = get_clip_config(arch)
    act = clip_weights_quick_gelu(arch, pretrained, quick_gelu, cfg.get('quick_gelu'))
    return _build_text_tower(cfg['embed_dim'], cfg['text_cfg'], quick_gelu=act)


def load_pretrained_tower(tower: nn.Module, arch: str | dict, pretrained: str, which: str,
                          what: str, **kwargs) -> dict:
    """Load the ``which`` ('visual' or 'text') part of CLIP weights into ``tower``."""
    state, _ = load_clip_state_dict(arch, pretrained)
    name = arch if isinstance(arch, str) else 'a custom architecture'
    return load_tower_weights(tower, tower_state_dict(state, which),
                              f'{what} ({name}, {pretrained})', **kwargs)
