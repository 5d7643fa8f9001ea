"""What ``tools/train.py`` and ``tools/test.py`` do, as functions (the tools only parse).

Both follow mmseg 1.x's tools, plus the checks that turn bad input into one-line errors
before anything is written: the config exists and parses, ``--cfg-options`` name existing
settings with values of the right type (:mod:`langseg.engine.cfg_options`), every ``type``
is registered, data roots hold images, the work dir is writable, ``--resume`` has a
checkpoint to resume from that is safe to load; after the runner is built (it writes a
timestamped log folder and a config dump, removed again when a check refuses the run:
:func:`~langseg.engine.work_dir.discard_failed_start`): the work dir has room for a
checkpoint, a checkpoint is safe to load and belongs to the model (``tools/test.py``'s
CHECKPOINT always; ``load_from`` in training only with ``load_from_strict=True``, else it
loads partially as mmseg/mmengine do, with one warning line naming the keys that did not
load). Both
builders install langseg's ``weights_only=True`` checkpoint loader into mmengine first
(:func:`~langseg.engine.checkpoint.install_safe_checkpoint_loader`; ``import langseg``
patches nothing). Data files are checked as they are read: the
pipelines' loaders are replaced by checked ones (``data_checks`` in the config, see
:mod:`langseg.datasets.checked_pipeline`), so an empty or corrupt image, a label map of
another size than its image, or a label value that is no class stops the run with one
line naming the file.

Training also adds :class:`~langseg.engine.work_dir.AtomicCheckpointHook` (checkpoints and
``last_checkpoint`` written whole or not at all; a full disk mid-run stops with one line
naming the last complete checkpoint) and :class:`~langseg.engine.rng_state.RNGStateHook`
(bit-exact resume).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import os.path as osp
import shutil
import sys
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
from ..utils.state_dict import key_report_text
from .accumulation import accumulation_steps, apply_accumulation
from .checkpoint import (check_checkpoint_matches, compare_state_dicts,
                         install_safe_checkpoint_loader, load_checkpoint_file, state_dict_of)
from .config import check_config_types, explain_build_errors, load_config
from .rng_state import use_rng_state_hook
from .work_dir import (StartRecord, WorkDirError, check_work_dir_space,
                       check_work_dir_writable, discard_failed_start, no_room_error,
                       space_needed, use_atomic_checkpoints)


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


def _type_name(value) -> str:
    """``'OptimWrapper'`` for ``'OptimWrapper'``, ``'mmengine.OptimWrapper'`` or the class."""
    name = value if isinstance(value, str) else getattr(value, '__name__', repr(value))
    return name.rsplit('.', 1)[-1]


def apply_amp(cfg: Config) -> Config:
    """``--amp``, as mmseg 1.x's ``tools/train.py``: an ``OptimWrapper`` becomes an
    ``AmpOptimWrapper`` with ``loss_scale='dynamic'``; an ``AmpOptimWrapper`` is kept with a
    warning; any other wrapper raises :class:`ConfigError` (mmseg asserts). The config is
    changed in place and returned. Needs no CUDA: :func:`build_train_runner` checks the
    device after this."""
    optim_wrapper = cfg.get('optim_wrapper')
    if not isinstance(optim_wrapper, dict):
        raise ConfigError('--amp needs an optim_wrapper dict in the config: expected '
                          "optim_wrapper = dict(type='OptimWrapper', optimizer=...)")
    # mmengine builds an OptimWrapper when the type is left out.
    wrapper_type = _type_name(optim_wrapper.get('type', 'OptimWrapper'))
    if wrapper_type == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in your config (optim_wrapper.type is '
                  'AmpOptimWrapper): --amp changes nothing', logger='current',
                  level=logging.WARNING)
    elif wrapper_type == 'OptimWrapper':
        optim_wrapper['type'] = 'AmpOptimWrapper'
        optim_wrapper['loss_scale'] = 'dynamic'
    else:
        raise ConfigError(f'--amp cannot be applied to optim_wrapper.type={wrapper_type!r}: '
                          "expected 'OptimWrapper' (made an AmpOptimWrapper with "
                          "loss_scale='dynamic', as mmseg) or 'AmpOptimWrapper' (already "
                          'mixed precision); set the AMP wrapper in the config yourself')
    return cfg


#: How mmengine's ``load_state_dict`` starts its (multi-line, ``print``ed) key report.
_MMENGINE_KEY_REPORT = 'The model and loaded state dict do not match exactly'


def _without_mmengine_key_report(runner: Runner) -> None:
    """Leave mmengine's multi-line key report out of the runner's next checkpoint load.

    mmengine ``print``s it (stdout, no logger) from ``load_state_dict``; the runner's
    ``load_checkpoint`` is wrapped on this runner object only (nothing of mmengine is
    patched), for one call, with stdout captured during it: the report is dropped and any
    other printed text is passed on. ``LANGSEG_DEBUG=1`` keeps the report.
    """
    if os.environ.get('LANGSEG_DEBUG'):
        return
    original = runner.load_checkpoint

    def load_checkpoint(*args, **kwargs):
        runner.load_checkpoint = original  # one call only
        captured = io.StringIO()
        try:
            with contextlib.redirect_stdout(captured):
                return original(*args, **kwargs)
        finally:
            sys.stdout.write(captured.getvalue().split(_MMENGINE_KEY_REPORT)[0])

    runner.load_checkpoint = load_checkpoint


def _check_load_from(runner: Runner, cfg: Config) -> None:
    """``load_from`` in training. With ``load_from_strict=True`` a checkpoint that does not
    match the model exactly is refused (:class:`CheckpointError` naming the keys). By
    default it is loaded partially, as mmseg/mmengine do (the runner loads it with
    ``strict=False`` when training starts: missing and mis-shaped keys keep their initial
    weights, unexpected keys are ignored), and ONE warning line here names the keys
    (counts and the first few) instead of mmengine's multi-line report."""
    model = _unwrap(runner.model)
    if cfg.get('load_from_strict', False):
        check_checkpoint_matches(model, cfg.load_from)
        return
    if '://' in str(cfg.load_from):  # a URL: mmengine downloads it and reports the keys
        return
    report = compare_state_dicts(model, state_dict_of(load_checkpoint_file(cfg.load_from),
                                                      cfg.load_from))
    if not any(report.values()):
        return
    print_log(f'load_from {cfg.load_from} does not match the model exactly and is loaded '
              f'partially, as mmseg (missing and mismatched keys keep their initial '
              f'weights): {key_report_text(report)}; set load_from_strict=True in the config '
              'to refuse such a checkpoint', logger='current', level=logging.WARNING)
    _without_mmengine_key_report(runner)


def build_train_runner(config: str, work_dir: str | None = None, resume: bool = False,
                       amp: bool = False, cfg_options: dict | None = None,
                       launcher: str = 'none', gpus: int | None = None,
                       accumulate: int | None = None) -> Runner:
    """Load and check ``config`` and build the mmengine ``Runner`` for training.

    ``gpus`` (the GPUs of the published schedule) or ``accumulate`` (passes per step)
    keep the config's global batch on fewer processes by gradient accumulation, with the
    iteration schedule stretched (:mod:`langseg.engine.accumulation`).

    ``load_from`` (without ``resume``) loads partially with one warning line listing the
    missing, unexpected and shape-mismatched keys, as mmseg does; ``load_from_strict=True``
    in the config refuses a checkpoint that does not match the model exactly.
    """
    install_safe_checkpoint_loader()
    cfg = load_config(config, cfg_options)
    check_config_types(cfg)
    cfg.work_dir = _default_work_dir(cfg, config, work_dir)
    if amp:
        apply_amp(cfg)  # the wrapper check first: it does not need a GPU
        if not torch.cuda.is_available():
            raise ConfigError('--amp needs a CUDA device (mmengine AmpOptimWrapper); none is '
                              'available: train without --amp on CPU')
    if resume:
        cfg.resume = True
        latest = cfg.get('load_from') or find_latest_checkpoint(cfg.work_dir)
        if latest is None:
            raise CheckpointError(f'--resume: no checkpoint in work dir {cfg.work_dir} '
                                  "(expected a 'last_checkpoint' file written by an earlier "
                                  'run); start without --resume or pass --work-dir')
        if '://' not in str(latest):  # unsafe or truncated: refused before the runner writes
            load_checkpoint_file(latest)
    world_size = int(os.environ.get('WORLD_SIZE', '1')) if launcher != 'none' else 1
    steps = accumulation_steps(gpus, accumulate, world_size)
    if steps > 1:
        apply_accumulation(cfg, steps)
        print_log(f'gradient accumulation: {steps} passes per optimiser step (global batch '
                  f'{steps * world_size} x {cfg.train_dataloader.batch_size}); iteration '
                  f'schedule x {steps}: max_iters {cfg.train_cfg.get("max_iters")}',
                  logger='current')
    _check_data(cfg, ('train_dataloader', 'val_dataloader'))
    _setup_distributed(cfg, launcher)
    use_atomic_checkpoints(cfg)
    use_rng_state_hook(cfg)
    record = StartRecord(cfg.work_dir, config)
    check_work_dir_writable(cfg.work_dir)
    with explain_build_errors():
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    try:
        if cfg.get('load_from') and not resume:
            _check_load_from(runner, cfg)
        check_work_dir_space(cfg.work_dir, space_needed(runner))
    except BaseException:
        discard_failed_start(runner, record)
        raise
    return runner


def train(config: str, **kwargs) -> torch.nn.Module:
    """``tools/train.py``: build the runner (see :func:`build_train_runner`) and train."""
    runner = build_train_runner(config, **kwargs)
    try:
        with explain_build_errors(), _explain_data_errors():
            return runner.train()
    except OSError as exc:  # a log or metrics file on a full / read-only disk
        error = no_room_error(exc, runner)
        if error is None:
            raise
        raise error from None


def has_display() -> bool:
    """Whether a window can be opened: on Linux an X11 ``DISPLAY`` (or a Wayland display)."""
    if not sys.platform.startswith('linux'):
        return True
    return bool(os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY'))


def trigger_visualization_hook(cfg: Config, show_dir: str | None = None, show: bool = False,
                               wait_time: float = 2.0) -> Config:
    """``--show`` / ``--show-dir`` as mmseg 1.x's ``tools/test.py``: the config's
    ``SegVisualizationHook`` draws; ``--show`` displays each prediction in a window for
    ``wait_time`` seconds and saves nothing (the hook drops the visualizer's backends),
    ``--show-dir`` saves PNG overlays of every image. Changes ``cfg`` in place.

    Raises:
        ConfigError: no visualization hook in the config, both flags, or ``--show`` on a
            machine without a display.
    """
    flag = '--show' if show else '--show-dir'
    hooks = cfg.get('default_hooks') or {}
    if 'visualization' not in hooks:
        raise ConfigError(f"{flag} needs default_hooks.visualization "
                          "(dict(type='SegVisualizationHook')) in the config")
    if show and show_dir:
        raise ConfigError('--show and --show-dir cannot be used together: --show displays '
                          'the predictions and saves nothing (as mmseg); use one of them')
    if show and not has_display():
        raise ConfigError('--show needs a display to open a window and none is available '
                          '(DISPLAY is not set): use --show-dir DIR to save the overlays '
                          'as PNG files instead')
    hooks.visualization.draw = True
    if show:
        hooks.visualization.show = True
        hooks.visualization.wait_time = float(wait_time)
    else:
        hooks.visualization.interval = 1  # every image (mmseg's default draws every 50th)
        cfg.visualizer.save_dir = show_dir
    return cfg


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
    cfg.work_dir = _default_work_dir(cfg, config, work_dir)
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
        cfg.test_evaluator['output_dir'] = _partial_dir(out)
        cfg.test_evaluator['keep_results'] = True
    _check_data(cfg, ('test_dataloader', ))
    _setup_distributed(cfg, launcher)
    record = StartRecord(cfg.work_dir, config)
    check_work_dir_writable(cfg.work_dir)
    with explain_build_errors():
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    if checkpoint is not None:
        model = _unwrap(runner.model)
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


def _is_training_free(cfg: Config) -> bool:
    """Whether the config's model needs no checkpoint (its class says ``training_free``)."""
    from ..registry import MODELS
    model_type = cfg.model.get('type') if isinstance(cfg.get('model'), dict) else None
    cls = MODELS.get(model_type) if isinstance(model_type, str) else model_type
    return bool(getattr(cls, 'training_free', False))


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


__all__ = ['apply_amp', 'build_test_runner', 'build_train_runner', 'test', 'train',
           'trigger_visualization_hook']
