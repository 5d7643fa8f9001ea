"""mmengine integration of langseg's safe checkpoint loading (``weights_only=True``, always).

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; on torch >= 2.6 that means
``weights_only=True``, and mmengine's own checkpoints (which pickle a message hub of
``HistoryBuffer`` objects holding numpy arrays) are refused. Rather than disabling the
check, ``import langseg`` (through :func:`install_safe_checkpoint_loader`, called once by
``langseg/__init__.py``) does two things, so that every path that loads a checkpoint
through mmengine works with nothing added by the user (mmseg's ``tools/test.py``,
``tools/train.py --resume``, ``load_from``, ``mmseg.apis.init_model``,
``MMSegInferencer``; the configs' ``custom_imports = dict(imports=['langseg'])`` imports
langseg):

1. it registers the exact set of classes an mmengine checkpoint pickles
   (:data:`~langseg.utils.state_dict.MMENGINE_CHECKPOINT_GLOBALS`: ``HistoryBuffer``, a
   ``getattr`` restricted to ``HistoryBuffer``'s statistics methods, numpy arrays, scalars
   and dtypes) with torch's allowlist (``torch.serialization.add_safe_globals``), so a plain
   ``torch.load(path)`` (weights_only) reads them;
2. it registers a loader for mmengine's local-file scheme (``CheckpointLoader``'s
   documented ``register_scheme``) that calls
   :func:`langseg.utils.state_dict.load_checkpoint_file`: ``torch.load(...,
   weights_only=True)`` always (whatever ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` says), and a
   refused pickle (any other global, e.g. ``os.system``) or an unreadable file raises one
   :class:`~langseg.utils.errors.CheckpointError` line naming the file and the object.

URLs and other schemes (``http://``, ``open-mmlab://``, ...) keep mmengine's loaders.
"""
from __future__ import annotations

from typing import Any

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from ..utils.errors import CheckpointError
from ..utils.state_dict import (MMENGINE_CHECKPOINT_GLOBALS, compare_state_dicts,
                                key_report_text, load_checkpoint_file, state_dict_of)


def _load_from_local(filename: str, map_location: Any) -> Any:
    return load_checkpoint_file(filename, map_location)


def install_safe_checkpoint_loader() -> None:
    """Register mmengine's checkpoint classes with torch's safe-loading allowlist and
    route mmengine's local checkpoint loading through
    :func:`~langseg.utils.state_dict.load_checkpoint_file` (``weights_only=True``).
    Idempotent; ``import langseg`` calls it."""
    torch.serialization.add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)
    CheckpointLoader.register_scheme(prefixes='', force=True)(_load_from_local)


def check_checkpoint_matches(model: torch.nn.Module, filename: str) -> None:
    """Raise :class:`CheckpointError` unless ``filename`` holds exactly ``model``'s weights.

    The message lists the missing, unexpected and shape-mismatched keys.
    """
    report = compare_state_dicts(model, state_dict_of(load_checkpoint_file(filename),
                                                      filename))
    if any(report.values()):
        raise CheckpointError(f'checkpoint {filename} does not belong to this model: '
                              + key_report_text(report))


__all__ = ['MMENGINE_CHECKPOINT_GLOBALS', 'check_checkpoint_matches', 'compare_state_dicts',
           'install_safe_checkpoint_loader', 'load_checkpoint_file', 'state_dict_of']
