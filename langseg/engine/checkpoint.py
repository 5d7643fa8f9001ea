"""Safe checkpoint loading on torch >= 2.6: ``weights_only=True``, always.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; on torch >= 2.6 that means
``weights_only=True`` and mmengine's own checkpoints (which pickle a message hub of
``HistoryBuffer`` objects holding numpy arrays) are refused. Rather than disabling the
check, langseg registers exactly the classes an mmengine checkpoint contains as safe
globals (:data:`MMENGINE_CHECKPOINT_GLOBALS`) and replaces mmengine's local-file loader by
:func:`load_checkpoint_file`, which loads with ``weights_only=True`` explicitly and turns
torch's long errors into one line: a file that pickles anything else (a callable, an
arbitrary class) is refused and the message names the global it tried to load.
"""
from __future__ import annotations

import os.path as osp
import pickle
import re
import zipfile
from typing import Any

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from ..utils.errors import CheckpointError


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


_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')

#: Every non-builtin global an mmengine 0.10 checkpoint written by langseg pickles:
#: the message hub's ``HistoryBuffer`` (with its statistics methods, fetched by a restricted
#: ``getattr``) and numpy arrays, scalars and dtypes.
MMENGINE_CHECKPOINT_GLOBALS: list = [
    HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'), *_numpy_globals()
]

_UNSAFE_OBJECT = re.compile(r'GLOBAL ([\w.]+)|unrecognized function ([^\n]+?)(?: which|\n|$)')
_registered = False


def register_safe_globals() -> None:
    """Allow exactly :data:`MMENGINE_CHECKPOINT_GLOBALS` in ``weights_only`` loads."""
    global _registered
    if not _registered:
        torch.serialization.add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)
        _registered = True


def load_checkpoint_file(filename: str, map_location: Any = 'cpu') -> Any:
    """``torch.load(filename, weights_only=True)`` with one-line errors.

    Raises:
        CheckpointError: the file does not exist, is not a torch checkpoint, or pickles an
            object outside the allowed set (the message names it).
    """
    register_safe_globals()
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise CheckpointError(f'checkpoint {filename} does not exist: expected the path of a '
                              '.pth file written by tools/train.py (or a state dict)')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, OSError, ...
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


def _load_from_local(filename: str, map_location: Any) -> Any:
    return load_checkpoint_file(filename, map_location)


def install_safe_checkpoint_loader() -> None:
    """Route mmengine's local checkpoint loading (``load_from``, ``resume``) through
    :func:`load_checkpoint_file`."""
    register_safe_globals()
    CheckpointLoader.register_scheme(prefixes='', force=True)(_load_from_local)


def state_dict_of(checkpoint: Any) -> dict:
    """The model state dict inside an mmengine checkpoint (or a bare state dict)."""
    if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
        checkpoint = checkpoint['state_dict']
    if not isinstance(checkpoint, dict) or not all(isinstance(k, str) for k in checkpoint):
        raise CheckpointError('the file holds no state dict: expected a dict of tensors or '
                              "an mmengine checkpoint with a 'state_dict' entry")
    return {k[7:] if k.startswith('module.') else k: v for k, v in checkpoint.items()}


def compare_state_dicts(model: torch.nn.Module, state_dict: dict) -> dict[str, list[str]]:
    """Missing, unexpected and shape-mismatched keys of ``state_dict`` for ``model``."""
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state_dict)
    unexpected = sorted(k for k in state_dict if k not in own)
    mismatched = sorted(
        f'{k} (checkpoint {tuple(state_dict[k].shape)}, model {tuple(own[k].shape)})'
        for k in own if k in state_dict and hasattr(state_dict[k], 'shape')
        and tuple(state_dict[k].shape) != tuple(own[k].shape))
    return dict(missing=missing, unexpected=unexpected, mismatched=mismatched)


def _summarise(keys: list[str], limit: int = 8) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit else '')


def check_checkpoint_matches(model: torch.nn.Module, filename: str) -> None:
    """Raise :class:`CheckpointError` unless ``filename`` holds exactly ``model``'s weights.

    The message lists the missing, unexpected and shape-mismatched keys.
    """
    report = compare_state_dicts(model, state_dict_of(load_checkpoint_file(filename)))
    problems = [f'{len(v)} {name} keys: {_summarise(v)}' for name, v in report.items() if v]
    if problems:
        raise CheckpointError(f'checkpoint {filename} does not belong to this model: '
                              + '; '.join(problems))
