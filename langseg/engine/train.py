"""What ``tools/train.py`` does, as functions (the tool only parses its flags).

As mmseg 1.x's ``tools/train.py``: load the config, merge ``--cfg-options``, ``--amp``,
``--resume``, build the runner, train; plus the checks that turn bad input into one-line
errors before anything is written: the config exists and parses, ``--cfg-options`` name
existing settings with values of the right type (:mod:`langseg.engine.cfg_options`),
every ``type`` is registered (:mod:`langseg.engine.config`), data roots hold images, the
work dir is writable, ``--resume`` has a checkpoint that is safe to load; after the runner
is built (it writes a timestamped log folder and a config dump, removed again when a check
refuses the run: :func:`~langseg.engine.work_dir.discard_failed_start`): the work dir has
room for a checkpoint, and with ``load_from_strict=True`` ``load_from`` belongs to the
model. Without it ``load_from`` loads partially, as mmseg, with one warning line
(:class:`~langseg.engine.runner.LangsegRunner`).

The config is changed only where a flag asks for it: ``--work-dir``, ``--amp``
(:mod:`langseg.engine.amp`), ``--resume``, ``--gpus``/``--accumulate``
(:mod:`langseg.engine.accumulation`), ``--launcher`` (:mod:`langseg.engine.distributed`).
Data files are checked as they are read: the pipelines' loaders are replaced by checked
ones (``data_checks`` in the config, see :mod:`langseg.datasets.checked_pipeline`), so an
empty or corrupt image, a label map of another size than its image, or a label value that
is no class stops the run with one line naming the file.
Training also makes the config's ``CheckpointHook`` an
:class:`~langseg.engine.work_dir.AtomicCheckpointHook` and adds
:class:`~langseg.engine.rng_state.RNGStateHook` (bit-exact resume).
"""
from __future__ import annotations

import os

import torch
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmengine.runner.checkpoint import find_latest_checkpoint

from ..datasets.checked_pipeline import data_checks_options, install_checked_loading
from ..datasets.checks import check_data_roots
from ..utils.errors import CheckpointError
from .accumulation import accumulation_steps, apply_accumulation
from .amp import apply_amp, check_amp_device
from .checkpoint import (check_checkpoint_matches, install_safe_checkpoint_loader,
                         load_checkpoint_file)
from .config import check_config_types, explain_build_errors, load_config
from .distributed import setup_distributed
from .rng_state import use_rng_state_hook
from .runner import build_runner, explain_data_errors
from .work_dir import (StartRecord, check_work_dir_space, check_work_dir_writable,
                       default_work_dir, discard_failed_start, no_room_error, space_needed,
                       use_atomic_checkpoints)


def check_data(cfg, loaders: tuple[str, ...]) -> None:
    """The up-front data checks (roots, layouts, empty images) of the dataloaders the run
    starts with, then the checked loaders in every dataloader's pipeline."""
    enabled = data_checks_options(cfg)['enabled']
    check_data_roots(cfg, loaders, check_empty_files=enabled)
    install_checked_loading(cfg)


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
    cfg.work_dir = default_work_dir(cfg, config, work_dir)
    if amp:
        apply_amp(cfg)  # the wrapper check first: it does not need a GPU
        check_amp_device()
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
    check_data(cfg, ('train_dataloader', 'val_dataloader'))
    setup_distributed(cfg, launcher)
    use_atomic_checkpoints(cfg)
    use_rng_state_hook(cfg)
    record = StartRecord(cfg.work_dir, config)
    check_work_dir_writable(cfg.work_dir)
    runner = build_runner(cfg)
    try:
        if cfg.get('load_from') and not resume and cfg.get('load_from_strict', False):
            model = runner.model
            check_checkpoint_matches(model.module if hasattr(model, 'module') else model,
                                     cfg.load_from)
        check_work_dir_space(cfg.work_dir, space_needed(runner))
    except BaseException:
        discard_failed_start(runner, record)
        raise
    return runner


def train(config: str, **kwargs) -> torch.nn.Module:
    """``tools/train.py``: build the runner (see :func:`build_train_runner`) and train."""
    runner = build_train_runner(config, **kwargs)
    try:
        with explain_build_errors(), explain_data_errors():
            return runner.train()
    except OSError as exc:  # a log or metrics file on a full / read-only disk
        error = no_room_error(exc, runner)
        if error is None:
            raise
        raise error from None


__all__ = ['build_train_runner', 'train']
