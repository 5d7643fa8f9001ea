"""Loading CLIP weights: an open_clip pretrained tag, or a local file.

``pretrained`` is either

* an open_clip tag of the architecture (``'openai'``, ``'laion2b_s32b_b79k'``, ...),
  downloaded by open_clip on first use (to its cache) and loaded from there; or
* the path of a local file: an open_clip state dict (``.pt``/``.pth``/``.bin`` loaded with
  ``weights_only=True``, or ``.safetensors``), or OpenAI's TorchScript archive (the
  ``RN50.pt`` files of the original CLIP release, read with ``torch.jit.load``, which
  deserialises TorchScript, not arbitrary pickles); files are read by
  :func:`langseg.utils.state_dict.read_state_dict`, keys checked by
  :func:`~langseg.utils.state_dict.load_state_dict_checked`.

Where a tag cannot be downloaded the error names the architecture and tag and shows how
to pass a file instead.

Activation (QuickGELU or GELU) of the towers, :func:`clip_weights_quick_gelu`; OpenAI's
towers were trained with QuickGELU, the others with GELU, and the same weights under the
other activation give other features without any error. The first rule that answers wins:

1. an explicit ``quick_gelu=True/False`` (the towers' option);
2. what the weights say: an open_clip tag says it (``openai`` -> QuickGELU); a file says
   it when it is an OpenAI TorchScript archive (QuickGELU), a state dict with OpenAI's
   entries ``input_resolution``/``context_length``/``vocab_size`` (the state dict of one
   of OpenAI's archives: QuickGELU), or a file with ``open_clip_config.json`` beside it
   (what open_clip and the Hugging Face hub store: its ``model_cfg.quick_gelu``);
3. the architecture: a name ending in ``-quickgelu`` (``ViT-B-16-quickgelu``; any
   architecture name here takes the suffix) or a dict with a ``quick_gelu`` key;
4. GELU, with one warning line per file and architecture that names the choice and how
   to make the other (a plain open_clip state dict of OpenAI's weights cannot tell).
 Weights are split per tower (``visual.*`` for the image encoder,
everything else but the logit scale/bias for the text encoder) and loaded with every
missing, unexpected or mis-shaped key reported.
"""
from __future__ import annotations

import json
import logging
import math
import os
import os.path as osp
from functools import lru_cache
from typing import Iterable

import open_clip
import torch
from mmengine.logging import print_log
from torch import nn

from ...utils.errors import CheckpointError, ConfigError
from ...utils.state_dict import has_openai_extra_keys, is_torchscript, \
    load_state_dict_checked, read_state_dict
from ..layers.pos_embed import PosInterp, resize_grid_pos_embed, square_grid

_NOT_TEXT = ('visual.', 'logit_scale', 'logit_bias')
#: The file open_clip / the Hugging Face hub store beside the weights, with ``model_cfg``.
OPEN_CLIP_SIDECAR = 'open_clip_config.json'
_warned_activation: set[tuple[str, str]] = set()


def resolve_pretrained(arch: str | dict, pretrained: str) -> tuple[str, bool]:
    """The local path of ``pretrained`` (a file, or an open_clip tag downloaded now) and
    whether the weights were trained with QuickGELU (OpenAI's)."""
    if osp.isfile(osp.expanduser(pretrained)):
        return osp.expanduser(pretrained), False
    if not isinstance(arch, str):
        raise ConfigError(f'pretrained={pretrained!r} is neither a file nor usable as a tag: '
                          'an open_clip tag needs a named architecture (e.g. RN50), a '
                          'config-dict architecture needs a weights file')
    cfg = open_clip.get_pretrained_cfg(arch, pretrained)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        looks_like_path = any(sep in pretrained for sep in ('/', '\\')) or '.' in pretrained
        what = 'file does not exist and it is not' if looks_like_path else 'is not'
        raise ConfigError(f'CLIP weights {pretrained!r} for {arch}: the {what} an open_clip '
                          f'tag of {arch} (tags: {", ".join(tags) or "none"})')
    try:
        path = open_clip.download_pretrained(cfg)
    except Exception as exc:  # no network, hub refused, ...
        reason = ' '.join(str(exc).split())[:200] or type(exc).__name__
        raise CheckpointError(
            f"cannot download CLIP weights {arch}/{pretrained} ({reason}): download them "
            "where there is network access, e.g. python -c \"import open_clip; "
            f"open_clip.create_model('{arch}', pretrained='{pretrained}')\", and pass the "
            "file instead of the tag: pretrained='/path/to/open_clip_model.safetensors' "
            "(or OpenAI's RN50.pt)") from None
    if not path:
        raise CheckpointError(f'open_clip has no download for {arch}/{pretrained}: pass a '
                              "local file with pretrained='/path/to/weights'")
    return path, bool(cfg.get('quick_gelu', False))


def load_clip_state_dict(arch: str | dict, pretrained: str) -> tuple[dict, bool]:
    """Full CLIP state dict for ``pretrained`` and whether it needs QuickGELU."""
    path, quick_gelu = resolve_pretrained(arch, pretrained)
    state, is_openai = read_state_dict(path, allow_torchscript=True)
    return state, quick_gelu or is_openai


def tower_state_dict(state: dict[str, torch.Tensor], tower: str) -> dict[str, torch.Tensor]:
    """The keys of one tower, named as in the tower module.

    ``visual``: ``visual.*`` without the prefix. ``text``: every other key except the
    logit scale/bias (open_clip's CLIP keeps the text tower's modules at top level;
    ``CustomTextCLIP`` checkpoints keep them under ``text.``, which is stripped).
    """
    if tower == 'visual':
        return {k[7:]: v for k, v in state.items() if k.startswith('visual.')}
    if tower == 'text':
        out = {k: v for k, v in state.items() if not k.startswith(_NOT_TEXT)}
        if out and all(k.startswith('text.') for k in out):
            out = {k[5:]: v for k, v in out.items()}
        return out
    raise ValueError(f'tower must be visual or text, got {tower!r}')


def _resize_grid_pos_embed(module: nn.Module, state: dict, key: str,
                           interp: PosInterp) -> str | None:
    """Resize a grid positional embedding (class row + square grid) in ``state`` to
    ``module``'s grid, by ``interp``."""
    own = dict(module.named_parameters()).get(key)
    theirs = state.get(key)
    if own is None or theirs is None or own.shape == theirs.shape or own.dim() != 2:
        return None
    side = math.isqrt(theirs.shape[0] - 1)
    if side * side != theirs.shape[0] - 1:
        raise CheckpointError(f'{key} of the checkpoint has {theirs.shape[0] - 1} grid rows: '
                              'expected a square grid (a class row + side x side)')
    src, dst = square_grid(theirs.shape[0] - 1), square_grid(own.shape[0] - 1)
    state[key] = resize_grid_pos_embed(theirs, src, dst, num_prefix=1, interp=interp)
    name = interp if isinstance(interp, str) else 'custom'
    return f'{key} resized from {src[0]}x{src[1]} to {dst[0]}x{dst[1]} ({name})'


def load_tower_weights(module: nn.Module, state: dict[str, torch.Tensor], what: str,
                       ignore_prefixes: Iterable[str] = (),
                       resize_pos_embed_keys: Iterable[str] = (),
                       pos_interp: PosInterp = 'bicubic') -> dict[str, list[str]]:
    """Load ``state`` into ``module`` and report; refuse any key mismatch.

    Keys starting with ``ignore_prefixes`` are dropped on purpose (e.g. the attention pool
    of a backbone built without embeddings) and reported as such. Raises
    :class:`CheckpointError` listing missing, unexpected and mis-shaped keys otherwise:
    a half-loaded CLIP (e.g. RN50 weights into an RN101) is never accepted.
    Positional grids named in ``resize_pos_embed_keys`` that are stored for another size
    are resized by ``pos_interp`` (``langseg.models.layers.pos_embed``).
    """
    state = dict(state)
    notes = [n for n in (_resize_grid_pos_embed(module, state, k, pos_interp)
                         for k in resize_pos_embed_keys) if n]
    report = load_state_dict_checked(module, state, what,
                                     skip_prefixes=ignore_prefixes)
    ignored = report['skipped']
    message = (f'loaded CLIP weights into {what}: {len(state) - len(ignored)} tensors, '
               '0 missing, 0 unexpected')
    if ignored:
        message += f'; ignored on purpose: {len(ignored)} keys ({ignored[0]} ...)'
    if notes:
        message += '; ' + '; '.join(notes)
    print_log(message, logger='current')
    return dict(report, ignored=ignored)


@lru_cache(maxsize=32)
def _file_activation(path: str, stamp: tuple) -> tuple[bool | None, str]:
    del stamp  # cache key only: a rewritten file (or sidecar) is read again
    if is_torchscript(path):
        return True, 'an OpenAI TorchScript archive'
    if has_openai_extra_keys(path):
        return True, "a state dict with OpenAI's input_resolution/context_length/vocab_size"
    sidecar = osp.join(osp.dirname(path), OPEN_CLIP_SIDECAR)
    if osp.isfile(sidecar):
        try:
            with open(sidecar, encoding='utf-8') as f:
                model_cfg = json.load(f).get('model_cfg')
        except (OSError, ValueError, AttributeError) as exc:
            raise ConfigError(f'{sidecar} beside the CLIP weights {path} is not readable '
                              f'({type(exc).__name__}): expected open_clip\'s json with a '
                              '"model_cfg" dict (or remove it)') from None
        if isinstance(model_cfg, dict):
            return bool(model_cfg.get('quick_gelu', False)), f'{sidecar} (model_cfg)'
    return None, ''


def weights_file_quick_gelu(path: str) -> tuple[bool | None, str]:
    """What the weights file ``path`` says about its activation: ``(True, why)`` for
    QuickGELU, ``(False, why)`` for GELU, ``(None, '')`` where it cannot tell (rule 2 of
    the module docstring)."""
    path = osp.realpath(osp.expanduser(path))
    stamp = tuple((s.st_mtime_ns, s.st_size) if (s := _stat(f)) else None
                  for f in (path, osp.join(osp.dirname(path), OPEN_CLIP_SIDECAR)))
    return _file_activation(path, stamp)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def clip_weights_quick_gelu(arch: str | dict, pretrained: str | None,
                            quick_gelu: bool | None, default: bool | None) -> bool:
    """Whether the towers should use QuickGELU (rules of the module docstring).

    ``default``: what the architecture names (its ``quick_gelu`` entry; ``None`` when it
    has none). A weights file that cannot tell, under an architecture that names nothing,
    gives GELU and one warning line (once per file and architecture in a process).
    """
    if quick_gelu is not None:
        return bool(quick_gelu)
    if pretrained is None:
        return bool(default)
    path = osp.expanduser(pretrained)
    if not osp.isfile(path):  # an open_clip tag: its pretrained config says it
        cfg = open_clip.get_pretrained_cfg(arch, pretrained) if isinstance(arch, str) else {}
        return bool(default) or bool((cfg or {}).get('quick_gelu', False))
    said, _ = weights_file_quick_gelu(path)
    if said is not None:
        return said
    if default is not None:
        return bool(default)
    name = arch if isinstance(arch, str) else None
    key = (osp.realpath(path), str(arch))
    if key not in _warned_activation:
        _warned_activation.add(key)
        other = (f"arch='{name}-quickgelu' or quick_gelu=True" if name else
                 "quick_gelu=True (or the architecture dict's quick_gelu=True)")
        print_log(f'CLIP weights {pretrained} do not say which activation they were trained '
                  'with (not an OpenAI TorchScript archive, no OpenAI entries, no '
                  f'{OPEN_CLIP_SIDECAR} beside them) and the architecture '
                  f'{name or "dict"} names none: using GELU; for OpenAI-trained weights '
                  f'pass {other}; quick_gelu=False keeps GELU without this warning',
                  logger='current', level=logging.WARNING)
    return False


__all__ = ['OPEN_CLIP_SIDECAR', 'clip_weights_quick_gelu', 'load_clip_state_dict',
           'load_tower_weights', 'resolve_pretrained', 'tower_state_dict',
           'weights_file_quick_gelu']
