"""Importing the official code of the VFM-proxy methods (GLA-CLIP, Trident) for the
recording scripts: each repository ships a modified open_clip (imported under an alias so
that the installed open_clip stays untouched) and loads DINO from the facebookresearch/dino
``vision_transformer.py``. Only the recording scripts use this; the tests never import
official code."""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types


def stub_unused_modules() -> None:
    """Modules the official helpers import but the recorded path never uses."""
    for name in ('openpyxl', 'ipdb'):
        sys.modules.setdefault(name, types.ModuleType(name))


def import_modified_open_clip(root: str, alias: str) -> types.ModuleType:
    """``root``'s ``open_clip/transformer.py`` as ``<alias>.transformer`` (``root`` goes on
    ``sys.path`` for the repository's own modules)."""
    stub_unused_modules()
    sys.path.insert(0, root)
    pkg = types.ModuleType(alias)
    pkg.__path__ = [os.path.join(root, 'open_clip')]
    sys.modules[alias] = pkg
    return importlib.import_module(f'{alias}.transformer')


def import_dino(dino_root: str) -> types.ModuleType:
    """The DINO repository's ``vision_transformer.py`` (its ``utils.trunc_normal_`` is
    timm's, the same function)."""
    from timm.layers import trunc_normal_
    utils = types.ModuleType('utils')
    utils.trunc_normal_ = trunc_normal_
    sys.modules['utils'] = utils
    spec = importlib.util.spec_from_file_location(
        'dino_vision_transformer', os.path.join(dino_root, 'vision_transformer.py'))
    dino = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dino)
    return dino
