"""mmengine integration of langseg's safe checkpoint loading (``weights_only=True``, always).

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; on torch >= 2.6 that means
``weights_only=True`` and mmengine's own checkpoints (which pickle a message hub of
``HistoryBuffer`` objects holding numpy arrays) are refused. Rather than disabling the
check, :func:`install_safe_checkpoint_loader` routes mmengine's local-file loading
(``load_from``, ``resume``) through :func:`langseg.utils.state_dict.load_checkpoint_file`,
which allows exactly the classes an mmengine checkpoint contains.

Nothing is installed by ``import langseg``: ``tools/train.py`` / ``tools/test.py`` (through
``langseg.engine.launch``) and ``langseg.apis`` call :func:`install_safe_checkpoint_loader`
themselves. Code that builds an mmengine ``Runner`` directly should call it first.
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
    """Route mmengine's local checkpoint loading (``load_from``, ``resume``) through
    :func:`~langseg.utils.state_dict.load_checkpoint_file` (``weights_only=True``)."""
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
