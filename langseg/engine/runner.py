"""The runner langseg's configs name, and how the tools build and run it.

:class:`LangsegRunner` is mmengine's ``Runner`` with two differences, both in overridden
public methods; ``configs/_base_/default_runtime.py`` names it
(``runner_type = 'mmseg.LangsegRunner'``), so mmseg's own ``tools/train.py`` builds it too
(``RUNNERS.build(cfg)``), and a config that does not name it runs on mmengine's ``Runner``:

* ``load_checkpoint`` with ``strict=False`` (``load_from`` in training, as mmseg) of a local
  checkpoint that does not match the model exactly logs ONE warning line naming the
  missing, unexpected and shape-mismatched keys (counts and the first few), in place of
  the multi-line report mmengine ``print``s (``LANGSEG_DEBUG=1`` keeps mmengine's report
  too). The load itself is mmengine's.
* ``wrap_model`` of a multi-process run on a machine without CUDA, when the config names
  no ``model_wrapper_cfg``, wraps the model in
  :class:`~langseg.engine.model_wrappers.CPUDistributedDataParallel` (mmengine's default
  wrapper asks for a CUDA device).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from typing import Any, Iterator

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS as ROOT_RUNNERS
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

from ..utils.errors import DataError, one_line
from ..utils.state_dict import (compare_state_dicts, key_report_text, load_checkpoint_file,
                                state_dict_of)
from .config import explain_build_errors

#: How mmengine's ``load_state_dict`` starts its (multi-line, ``print``ed) key report.
_MMENGINE_KEY_REPORT = 'The model and loaded state dict do not match exactly'


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, 'module') else model


@RUNNERS.register_module()
class LangsegRunner(Runner):
    """mmengine's ``Runner`` with a one-line partial-load warning and a CPU
    multi-process model wrapper (see the module docstring)."""

    def load_checkpoint(self, filename: str, map_location: Any = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> dict:  # noqa: B006
        """mmengine's ``Runner.load_checkpoint``; a partial load of a local file is
        reported as one warning line instead of mmengine's multi-line report."""
        if strict or '://' in str(filename):  # strict raises; URLs keep mmengine's report
            return super().load_checkpoint(filename, map_location, strict, revise_keys)
        report = compare_state_dicts(_unwrap(self.model),
                                     state_dict_of(load_checkpoint_file(filename), filename))
        if any(report.values()):
            print_log(f'load_from {filename} does not match the model exactly and is loaded '
                      f'partially, as mmseg (missing and mismatched keys keep their initial '
                      f'weights): {key_report_text(report)}; set load_from_strict=True in '
                      'the config to refuse such a checkpoint', logger='current',
                      level=logging.WARNING)
        if os.environ.get('LANGSEG_DEBUG'):
            return super().load_checkpoint(filename, map_location, strict, revise_keys)
        captured = io.StringIO()
        try:
            with contextlib.redirect_stdout(captured):
                return super().load_checkpoint(filename, map_location, strict, revise_keys)
        finally:  # mmengine's report left out, any other printed text passed on
            sys.stdout.write(captured.getvalue().split(_MMENGINE_KEY_REPORT)[0])

    def wrap_model(self, model_wrapper_cfg: dict | None,
                   model: torch.nn.Module) -> torch.nn.Module:
        """mmengine's ``Runner.wrap_model``; a multi-process run without CUDA and without
        a configured wrapper gets ``CPUDistributedDataParallel``."""
        if self.distributed and model_wrapper_cfg is None and not torch.cuda.is_available():
            # Scoped: mmengine looks the wrapper up in its root registry.
            model_wrapper_cfg = dict(type='mmseg.CPUDistributedDataParallel')
        return super().wrap_model(model_wrapper_cfg, model)


def build_runner(cfg: Config) -> Runner:
    """``RUNNERS.build(cfg)`` when the config names a ``runner_type``, else
    ``Runner.from_cfg(cfg)``, as mmseg 1.x's tools; unknown types become
    :class:`~langseg.utils.errors.ConfigError`."""
    with explain_build_errors():
        return ROOT_RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)


@contextlib.contextmanager
def explain_data_errors() -> Iterator[None]:
    """mmcv's loader asserts 'failed to load image: PATH' on a corrupt file: make it a
    one-line :class:`DataError` (the run stops; see docs/getting_started.md).

    Only needed with ``data_checks=dict(enabled=False)`` (mmcv's plain
    ``LoadImageFromFile``): the checked loaders raise :class:`DataError` themselves. One raised in a DataLoader worker
    is re-raised by PyTorch as a ``DataError`` whose message holds the worker's traceback;
    ``run_cli`` catches it and :func:`~langseg.utils.errors.one_line` keeps the original
    message."""
    try:
        yield
    except AssertionError as exc:
        message = one_line(exc)
        if 'failed to load image' not in message:
            raise
        path = message.split('failed to load image:')[-1].strip()
        raise DataError(f'cannot decode image {path}: the file is corrupt or not an image; '
                        'fix or remove it (and its split entry) and run again') from None


__all__ = ['LangsegRunner', 'build_runner', 'explain_data_errors']
