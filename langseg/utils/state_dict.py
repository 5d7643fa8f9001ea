"""The one place langseg reads weights files and checks their keys (timm's own
pretrained tags are the exception: timm downloads and reads them, ``timm_state_dict``).

* :func:`load_checkpoint_file`: ``torch.load(path, weights_only=True)``, always, with the
  exact set of extra classes an mmengine checkpoint pickles registered as safe globals
  (:data:`MMENGINE_CHECKPOINT_GLOBALS`; torch >= 2.6 refuses them otherwise), and torch's
  long errors turned into one line. A file that pickles anything else is refused.
* :func:`read_state_dict`: any weights file -> a flat ``{name: tensor}``: ``.safetensors``,
  a torch file (mmengine checkpoint ``{'state_dict': ...}``, ``{'model': ...}``,
  ``{'module': ...}`` or a bare state dict), or (when asked) an OpenAI TorchScript archive;
  a DDP ``module.`` prefix is stripped.
* :func:`compare_state_dicts` / :func:`load_state_dict_checked`: the one key check: missing,
  unexpected and mis-shaped keys, listed in one :class:`CheckpointError`; keys a caller
  drops on purpose (a classifier head, an unused pool) are named and reported as skipped.

Every loader uses these: CLIP towers (``langseg.models.clip.loading``), timm backbones and
VFMs, any-module VFMs, the tools' checkpoint checks (``langseg.engine.checkpoint``) and the
checkpoint converters.
"""
from __future__ import annotations

import contextlib
import os.path as osp
import pickle
import re
import warnings
import zipfile
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

from .errors import CheckpointError

# ------------------------------------------------------------------ safe loading
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def _numpy_globals() -> list:
    """The numpy objects a pickled array or scalar refers to (numpy 1.x and 2.x names)."""
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(t)) for t in (
        np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8,
        np.uint16, np.uint32, np.uint64, np.bool_)]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes]


def _history_buffer_getattr(owner: Any, name: str) -> Any:
    """The only ``getattr`` an mmengine checkpoint needs, and nothing more.

    ``HistoryBuffer.__getstate__`` pickles its statistics methods as
    ``getattr(HistoryBuffer, 'min')`` etc. Allowing ``builtins.getattr`` itself would let a
    file fetch any attribute of any object it can build; this stand-in answers only those
    look-ups.
    """
    if owner is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'getattr({owner!r}, {name!r}) is not allowed')


#: Every non-builtin global an mmengine 0.10 checkpoint written by langseg pickles:
#: the message hub's ``HistoryBuffer`` (with its statistics methods, fetched by a restricted
#: ``getattr``) and numpy arrays, scalars and dtypes.
MMENGINE_CHECKPOINT_GLOBALS: list = [
    HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'), *_numpy_globals()
]

_UNSAFE_OBJECT = re.compile(r'GLOBAL ([\w.]+)|unrecognized function ([^\n]+?)(?: which|\n|$)')


@contextlib.contextmanager
def mmengine_globals_allowed() -> Iterator[None]:
    """Allow the classes of an mmengine checkpoint for the calls inside, and afterwards
    remove only those this call added. (torch's ``safe_globals`` context removes all of its
    list on exit, also entries registered process-wide before it, such as
    ``install_safe_checkpoint_loader``'s: a later plain ``torch.load`` was then refused.)"""
    registered = set(map(id, torch.serialization.get_safe_globals()))
    added = [g for g in MMENGINE_CHECKPOINT_GLOBALS if id(g) not in registered]
    torch.serialization.add_safe_globals(added)
    try:
        yield
    finally:
        if added:
            keep = [g for g in torch.serialization.get_safe_globals()
                    if not any(g is a for a in added)]
            torch.serialization.clear_safe_globals()
            torch.serialization.add_safe_globals(keep)


def load_checkpoint_file(filename: str, map_location: Any = 'cpu') -> Any:
    """``torch.load(filename, weights_only=True)`` with one-line errors; the classes of an
    mmengine checkpoint are allowed for this call (:func:`mmengine_globals_allowed`: what
    ``import langseg`` registered process-wide stays registered).

    Raises:
        CheckpointError: the file does not exist, is not a torch checkpoint, or pickles an
            object outside the allowed set (the message names it).
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise CheckpointError(f'checkpoint {filename} does not exist: expected the path of a '
                              '.pth file written by tools/train.py (or a state dict)')
    try:
        with mmengine_globals_allowed(), warnings.catch_warnings():
            warnings.simplefilter('ignore')  # torch's legacy-format notes: errors say it all
            return torch.load(filename, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, OSError, ...
        from .torchscript import describe_refusal
        refusal = describe_refusal(filename, str(exc))
        if refusal is not None:
            if 'pickles' not in refusal:
                raise CheckpointError(f'cannot load {filename}: it {refusal}') from None
            raise CheckpointError(
                f'refused to load {filename}: it {refusal} (checkpoints are loaded with '
                'weights_only=True; a file that needs more may run arbitrary code)') from None
        found = _UNSAFE_OBJECT.search(str(exc))
        if isinstance(exc, pickle.UnpicklingError) and found:
            raise CheckpointError(
                f'refused to load {filename}: it pickles {found.group(1) or found.group(2)}, '
                'which is not a tensor, a plain container or one of the mmengine/numpy '
                'classes langseg allows (checkpoints are loaded with weights_only=True; a '
                'file that needs more may run arbitrary code)') from None
        reason = ('corrupt archive' if zipfile.is_zipfile(filename) else
                  'not a zip archive written by torch.save, or truncated')
        raise CheckpointError(f'{filename} is not a readable torch checkpoint ({reason}): '
                              'expected a .pth file written by tools/train.py or '
                              'torch.save') from None


# ------------------------------------------------------------- reading weights
_CONTAINER_KEYS = ('state_dict', 'model', 'module')
#: Non-tensor entries of OpenAI's CLIP archives.
_OPENAI_EXTRA_KEYS = ('input_resolution', 'context_length', 'vocab_size')


def is_torchscript(path: str) -> bool:
    """Whether ``path`` is a TorchScript archive (OpenAI's original CLIP ``.pt`` files)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith('constants.pkl') or '/code/' in name
                   for name in archive.namelist())


def state_dict_of(checkpoint: Any, source: str = 'the file',
                  keep_openai_extras: bool = False) -> dict[str, torch.Tensor]:
    """The flat state dict inside a loaded checkpoint: unwraps ``state_dict`` / ``model`` /
    ``module`` containers (nested too) and strips a DDP ``module.`` prefix (and OpenAI's
    non-tensor entries unless ``keep_openai_extras``)."""
    while isinstance(checkpoint, dict):
        inner = next((checkpoint[k] for k in _CONTAINER_KEYS
                      if isinstance(checkpoint.get(k), dict)), None)
        if inner is None:
            break
        checkpoint = inner
    if not isinstance(checkpoint, dict) or not all(isinstance(k, str) for k in checkpoint):
        raise CheckpointError(f'{source} holds no state dict: expected a dict of tensors or '
                              "an mmengine checkpoint with a 'state_dict' entry")
    if checkpoint and all(k.startswith('module.') for k in checkpoint):
        checkpoint = {k[len('module.'):]: v for k, v in checkpoint.items()}
    return {k: v for k, v in checkpoint.items()
            if keep_openai_extras or k not in _OPENAI_EXTRA_KEYS}


def has_openai_extra_keys(path: str) -> bool:
    """Whether the state dict in ``path`` carries OpenAI's non-tensor entries
    (``input_resolution``, ``context_length``, ``vocab_size``): what the state dict of one of
    OpenAI's CLIP archives holds (e.g. ``torch.save(torch.jit.load('ViT-B-16.pt')
    .state_dict(), ...)``). Torch files are memory-mapped (tensors are not read) where
    their format allows it; ``.safetensors`` files never hold these entries."""
    path = osp.expanduser(str(path))
    if path.endswith('.safetensors'):
        return False
    try:
        with mmengine_globals_allowed():
            checkpoint = torch.load(path, map_location='cpu', weights_only=True, mmap=True)
    except Exception:  # an old-format file cannot be mapped: read it (one-line errors)
        checkpoint = load_checkpoint_file(path)
    keys = state_dict_of(checkpoint, path, keep_openai_extras=True)
    return any(k in keys for k in _OPENAI_EXTRA_KEYS)


def read_state_dict(path: str, allow_torchscript: bool = False
                    ) -> tuple[dict[str, torch.Tensor], bool]:
    """Read a weights file: ``(state_dict, was_torchscript)`` (see the module docstring).

    TorchScript is read only when ``allow_torchscript`` (OpenAI's CLIP release), for its
    tensors, by a restricted unpickler that compiles and runs nothing of the archive
    (:func:`langseg.utils.torchscript.read_torchscript_tensors`).
    """
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise CheckpointError(f'weights file {path} does not exist: expected a .pth/.pt/.bin '
                              'state dict or a .safetensors file')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return dict(load_file(path)), False
    if allow_torchscript and is_torchscript(path):
        from .torchscript import read_torchscript_tensors
        return state_dict_of(read_torchscript_tensors(path), path), True
    return state_dict_of(load_checkpoint_file(path), path), False


# --------------------------------------------------------------------- key check
def compare_state_dicts(model: torch.nn.Module, state_dict: dict) -> dict[str, list[str]]:
    """Missing, unexpected and shape-mismatched keys of ``state_dict`` for ``model``.

    A model that loads checkpoints by a documented key rule (a ``remap_checkpoint(state)``
    method, e.g. SegCLIP's zero-shot segmentor loading a pretraining checkpoint) is
    compared after that rule, as its ``load_state_dict`` applies it."""
    remap = getattr(model, 'remap_checkpoint', None)
    if callable(remap):
        state_dict = remap(state_dict)
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state_dict)
    unexpected = sorted(k for k in state_dict if k not in own)
    mismatched = sorted(
        f'{k} (checkpoint {tuple(state_dict[k].shape)}, model {tuple(own[k].shape)})'
        for k in own if k in state_dict and hasattr(state_dict[k], 'shape')
        and tuple(state_dict[k].shape) != tuple(own[k].shape))
    return dict(missing=missing, unexpected=unexpected, mismatched=mismatched)


def summarise_keys(keys: list[str], limit: int = 6) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit else '')


def key_report_text(report: dict[str, list[str]]) -> str:
    """``'2 missing keys: a, b; 1 unexpected keys: c'`` (empty parts left out)."""
    return '; '.join(f'{len(v)} {k} keys: {summarise_keys(v)}'
                     for k, v in report.items() if v and k != 'skipped')


def load_state_dict_checked(module: torch.nn.Module, state: dict[str, torch.Tensor],
                            what: str, skip_prefixes: Iterable[str] = (),
                            strict: bool = True) -> dict[str, list[str]]:
    """Load ``state`` into ``module`` after the one key check.

    Keys starting with ``skip_prefixes`` are dropped on purpose and returned under
    ``'skipped'``. With ``strict``, any missing, unexpected or mis-shaped key raises
    :class:`CheckpointError` naming them (a half-loaded model is never accepted); without
    it the matching keys load and the report says what did not.
    """
    skip_prefixes = tuple(skip_prefixes)
    skipped = sorted(k for k in state if skip_prefixes and k.startswith(skip_prefixes))
    state = {k: v for k, v in state.items() if k not in skipped}
    report = compare_state_dicts(module, state)
    if strict and any(report.values()):
        raise CheckpointError(f'the weights do not fit {what}: ' + key_report_text(report))
    if not strict:
        bad = {r.split(' ')[0] for r in report['mismatched']}
        state = {k: v for k, v in state.items() if k not in bad}
    module.load_state_dict(state, strict=strict)
    return dict(report, skipped=skipped)


__all__ = ['MMENGINE_CHECKPOINT_GLOBALS', 'compare_state_dicts', 'has_openai_extra_keys',
           'is_torchscript',
           'key_report_text', 'load_checkpoint_file', 'load_state_dict_checked',
           'read_state_dict', 'state_dict_of', 'summarise_keys']
