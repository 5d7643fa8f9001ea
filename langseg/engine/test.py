"""What ``tools/test.py`` does, as functions (the tool only parses its flags).

As mmseg 1.x's ``tools/test.py``: load the config, merge ``--cfg-options``, set
``load_from`` to CHECKPOINT, ``--show``/``--show-dir`` (:mod:`langseg.engine.visualization`),
``--tta``, ``--out``, build the runner, test; plus the checks of
:mod:`langseg.engine.train` and two of its own: a given CHECKPOINT exists, is safe to load
and matches the model exactly (evaluating a half-loaded model is never wanted), and a
model that needs training is refused without one unless ``--no-checkpoint`` asks for the
weights the config builds.
"""
from __future__ import annotations

import logging
import os.path as osp
import shutil

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

from ..utils.errors import CheckpointError, ConfigError
from .checkpoint import check_checkpoint_matches, install_safe_checkpoint_loader
from .config import check_config_types, explain_build_errors, load_config
from .distributed import setup_distributed
from .runner import build_runner, explain_data_errors
from .train import check_data
from .visualization import trigger_visualization_hook
from .work_dir import (StartRecord, check_work_dir_writable, default_work_dir,
                       discard_failed_start, partial_dir, publish_partial)


def _is_training_free(cfg: Config) -> bool:
    """Whether the config's model needs no checkpoint (its class says ``training_free``)."""
    from ..registry import MODELS
    model_type = cfg.model.get('type') if isinstance(cfg.get('model'), dict) else None
    cls = MODELS.get(model_type) if isinstance(model_type, str) else model_type
    return bool(getattr(cls, 'training_free', False))


def build_test_runner(config: str, checkpoint: str | None = None,
                      work_dir: str | None = None, out: str | None = None,
                      show_dir: str | None = None, tta: bool = False,
                      cfg_options: dict | None = None, launcher: str = 'none',
                      show: bool = False, wait_time: float = 2.0,
                      random_weights: bool = False) -> Runner:
    """Load and check ``config`` and build the ``Runner`` for testing ``checkpoint``.

    ``checkpoint`` may be ``None`` for models that need no training (``training_free``,
    e.g. ProxyCLIP); for any other model it is refused (:class:`CheckpointError`) unless
    ``random_weights`` (``--no-checkpoint``): then the weights the config builds are
    evaluated, with a warning. A given checkpoint must match the model
    exactly (always strict, whatever ``load_from_strict`` says: evaluating a half-loaded
    model is never wanted). ``show``/``wait_time``: see :func:`trigger_visualization_hook`.
    """
    install_safe_checkpoint_loader()
    cfg = load_config(config, cfg_options)
    check_config_types(cfg)
    cfg.work_dir = default_work_dir(cfg, config, work_dir)
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise CheckpointError(f'checkpoint {checkpoint} does not exist: expected the path of '
                              'a .pth file written by tools/train.py')
    if checkpoint is not None and random_weights:
        raise ConfigError('--no-checkpoint and a CHECKPOINT cannot be used together: give '
                          'one of them')
    if checkpoint is None and not random_weights and not _is_training_free(cfg):
        raise CheckpointError(f'{cfg.model.get("type")} is a trained model and no CHECKPOINT '
                              'was given: expected tools/test.py CONFIG CHECKPOINT (a .pth '
                              'written by tools/train.py); pass --no-checkpoint to evaluate '
                              'the weights the config builds')
    cfg.load_from = checkpoint
    if show or show_dir:
        trigger_visualization_hook(cfg, show_dir, show, wait_time)
    if tta:
        if 'tta_pipeline' not in cfg or 'tta_model' not in cfg:
            raise ConfigError('--tta needs tta_pipeline and tta_model in the config')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if out is not None:  # written to a partial folder, moved into place on success
        cfg.test_evaluator['output_dir'] = partial_dir(out)
        cfg.test_evaluator['keep_results'] = True
    check_data(cfg, ('test_dataloader', ))
    setup_distributed(cfg, launcher)
    record = StartRecord(cfg.work_dir, config)
    check_work_dir_writable(cfg.work_dir)
    runner = build_runner(cfg)
    if checkpoint is not None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        try:
            check_checkpoint_matches(model.module if tta else model, checkpoint)
        except BaseException:
            discard_failed_start(runner, record)
            raise
    elif random_weights:
        print_log('--no-checkpoint: evaluating the weights the config builds (pretrained '
                  'parts as the config names them, the rest randomly initialised)',
                  logger='current', level=logging.WARNING)
    return runner


def test(config: str, checkpoint: str | None = None, out: str | None = None,
         **kwargs) -> dict:
    """``tools/test.py``: build the runner and evaluate; returns the metrics.

    With ``out``, predictions are written to a partial folder and moved into ``out`` only
    when the whole evaluation succeeded.
    """
    runner = build_test_runner(config, checkpoint, out=out, **kwargs)
    partial = partial_dir(out) if out is not None else None
    try:
        with explain_build_errors(), explain_data_errors():
            metrics = runner.test()
    except BaseException:
        if partial:
            shutil.rmtree(partial, ignore_errors=True)
        raise
    if partial:
        publish_partial(partial, out)
    return metrics


__all__ = ['build_test_runner', 'test']
