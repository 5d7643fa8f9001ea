"""What ``tools/train.py`` and ``tools/test.py`` do, as functions (the tools only parse).

Both follow mmseg 1.x's tools, plus the checks that turn bad input into one-line errors
before anything is written: the config exists and parses, every ``type`` is registered,
data roots hold images, ``--resume`` has a checkpoint to resume from, a checkpoint exists,
is safe to load and belongs to the model. Data files are checked as they are read: the
pipelines' loaders are replaced by checked ones (``data_checks`` in the config, see
:mod:`langseg.datasets.checked_pipeline`), so an empty or corrupt image, a label map of
another size than its image, or a label value that is no class stops the run with one
line naming the file.
"""
from __future__ import annotations

import contextlib
import logging
import os
import os.path as osp
import shutil
from typing import Iterator

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import find_latest_checkpoint

from ..datasets.checked_pipeline import data_checks_options, install_checked_loading
from ..datasets.checks import check_data_roots
from ..utils.errors import CheckpointError, ConfigError, DataError, one_line
from .checkpoint import check_checkpoint_matches
from .config import check_config_types, explain_build_errors, load_config


def _default_work_dir(cfg: Config, config_path: str, work_dir: str | None) -> str:
    if work_dir is not None:
        return work_dir
    if cfg.get('work_dir') is not None:
        return cfg.work_dir
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def _setup_distributed(cfg: Config, launcher: str) -> None:
    """Without CUDA, run multi-process jobs on gloo with a CPU DDP wrapper.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device``, which fails on a machine
    without a GPU; the process group is therefore initialised here (env:// from torchrun).
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    # Scoped: the runner looks the wrapper up in mmengine's root registry.
    cfg.model_wrapper_cfg = dict(type='mmseg.CPUDistributedDataParallel')
    if launcher != 'pytorch':
        raise ConfigError(f'--launcher {launcher} without CUDA is not supported: use '
                          'torchrun with --launcher pytorch for CPU processes')
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, 'module') else model


def _check_data(cfg: Config, loaders: tuple[str, ...]) -> None:
    """The up-front data checks (roots, layouts, empty images) of the dataloaders the run
    starts with, then the checked loaders in every dataloader's pipeline."""
    enabled = data_checks_options(cfg)['enabled']
    check_data_roots(cfg, loaders, check_empty_files=enabled)
    install_checked_loading(cfg)


def build_train_runner(config: str, work_dir: str | None = None, resume: bool = False,
                       amp: bool = False, cfg_options: dict | None = None,
                       launcher: str = 'none') -> Runner:
    """Load and check ``config`` and build the mmengine ``Runner`` for training."""
    cfg = load_config(config, cfg_options)
    check_config_types(cfg)
    cfg.work_dir = _default_work_dir(cfg, config, work_dir)
    if amp:
        if not torch.cuda.is_available():
            raise ConfigError('--amp needs a CUDA device (mmengine AmpOptimWrapper); none is '
                              'available: train without --amp on CPU')
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper != 'AmpOptimWrapper':
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if resume:
        cfg.resume = True
        if cfg.get('load_from') is None and find_latest_checkpoint(cfg.work_dir) is None:
            raise CheckpointError(f'--resume: no checkpoint in work dir {cfg.work_dir} '
                                  "(expected a 'last_checkpoint' file written by an earlier "
                                  'run); start without --resume or pass --work-dir')
    _check_data(cfg, ('train_dataloader', 'val_dataloader'))
    _setup_distributed(cfg, launcher)
    with explain_build_errors():
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    if cfg.get('load_from') and not resume and cfg.get('load_from_strict', True):
        check_checkpoint_matches(_unwrap(runner.model), cfg.load_from)
    return runner


def train(config: str, **kwargs) -> torch.nn.Module:
    """``tools/train.py``: build the runner (see :func:`build_train_runner`) and train."""
    runner = build_train_runner(config, **kwargs)
    with explain_build_errors(), _explain_data_errors():
        return runner.train()


def _trigger_visualization_hook(cfg: Config, show_dir: str) -> None:
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise ConfigError("--show-dir needs default_hooks.visualization "
                          "(dict(type='SegVisualizationHook')) in the config")
    hooks.visualization.draw = True
    hooks.visualization.interval = 1  # every image (mmseg's default draws every 50th)
    cfg.visualizer.save_dir = show_dir


@contextlib.contextmanager
def _explain_data_errors() -> Iterator[None]:
    """mmcv's loader asserts 'failed to load image: PATH' on a corrupt file: make it a
    one-line :class:`DataError` (the run stops; see docs/getting_started.md).

    Only needed with ``data_checks=dict(enabled=False)``: the checked loaders raise
    :class:`DataError` themselves. One raised in a DataLoader worker is re-raised by
    PyTorch as a ``DataError`` whose message holds the worker's traceback; ``run_cli``
    catches it and :func:`~langseg.utils.errors.one_line` keeps the original message."""
    try:
        yield
    except AssertionError as exc:
        message = one_line(exc)
        if 'failed to load image' not in message:
            raise
        path = message.split('failed to load image:')[-1].strip()
        raise DataError(f'cannot decode image {path}: the file is corrupt or not an image; '
                        'fix or remove it (and its split entry) and run again') from None


def build_test_runner(config: str, checkpoint: str | None = None,
                      work_dir: str | None = None, out: str | None = None,
                      show_dir: str | None = None, tta: bool = False,
                      cfg_options: dict | None = None, launcher: str = 'none') -> Runner:
    """Load and check ``config`` and build the ``Runner`` for testing ``checkpoint``.

    ``checkpoint`` may be ``None`` for models that need no training (e.g. ProxyCLIP), or
    to evaluate the weights the config builds.
    """
    cfg = load_config(config, cfg_options)
    check_config_types(cfg)
    cfg.work_dir = _default_work_dir(cfg, config, work_dir)
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise CheckpointError(f'checkpoint {checkpoint} does not exist: expected the path of '
                              'a .pth file written by tools/train.py')
    cfg.load_from = checkpoint
    if show_dir:
        _trigger_visualization_hook(cfg, show_dir)
    if tta:
        if 'tta_pipeline' not in cfg or 'tta_model' not in cfg:
            raise ConfigError('--tta needs tta_pipeline and tta_model in the config')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if out is not None:  # written to a partial folder, moved into place on success
        cfg.test_evaluator['output_dir'] = _partial_dir(out)
        cfg.test_evaluator['keep_results'] = True
    _check_data(cfg, ('test_dataloader', ))
    _setup_distributed(cfg, launcher)
    with explain_build_errors():
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    if checkpoint is not None:
        model = _unwrap(runner.model)
        check_checkpoint_matches(model.module if tta else model, checkpoint)
    else:
        print_log('no checkpoint given: evaluating the weights the config builds (right for '
                  'training-free models such as ProxyCLIP)', logger='current',
                  level=logging.WARNING)
    return runner


def _partial_dir(out: str) -> str:
    return f'{osp.abspath(out)}.partial-{os.getpid()}'


def _publish(partial: str, out: str) -> None:
    """Move the predictions of a finished run from ``partial`` into ``out``."""
    if not osp.isdir(partial):
        return
    if not osp.isdir(out):
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        os.replace(partial, out)
        return
    for name in os.listdir(partial):
        os.replace(osp.join(partial, name), osp.join(out, name))
    shutil.rmtree(partial, ignore_errors=True)


def test(config: str, checkpoint: str | None = None, out: str | None = None,
         **kwargs) -> dict:
    """``tools/test.py``: build the runner and evaluate; returns the metrics.

    With ``out``, predictions are written to a partial folder and moved into ``out`` only
    when the whole evaluation succeeded.
    """
    runner = build_test_runner(config, checkpoint, out=out, **kwargs)
    partial = _partial_dir(out) if out is not None else None
    try:
        with explain_build_errors(), _explain_data_errors():
            metrics = runner.test()
    except BaseException:
        if partial:
            shutil.rmtree(partial, ignore_errors=True)
        raise
    if partial:
        _publish(partial, out)
    return metrics


__all__ = ['build_test_runner', 'build_train_runner', 'test', 'train']
