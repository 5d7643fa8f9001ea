"""Keep a paper's global batch on fewer GPUs: gradient accumulation with the schedule
stretched so that the learning rate and the number of optimiser steps stay as published.

``tools/train.py CONFIG --gpus 8`` on one GPU runs an ``8xb4`` config as 8 accumulated
forward/backward passes of batch 4 per optimiser step (global batch 32, as published):
mmengine's ``OptimWrapper(accumulative_counts=K)`` scales each pass's loss by 1/K and steps
every K passes, so one step sees the gradient of the mean over the 32 images. mmengine's
schedulers and loop count *passes*, so everything measured in iterations is multiplied by
K: ``max_iters``, ``val_interval``, the checkpoint interval and every iteration-based
parameter scheduler's ``begin``/``end`` and ``warmup_iters`` (``PolyLRWithWarmup``)
(warm-up 1500 -> 1500 K passes = 1500 steps).

What accumulation cannot give: BatchNorm statistics of the large batch (each pass
normalises its own 4 images; SyncBN over 8 GPUs normalises 32). Backbones whose BN is
frozen or in eval mode (``norm_eval``) are unaffected.
"""
from __future__ import annotations

from mmengine.config import Config

from ..utils.errors import ConfigError


def accumulation_steps(gpus: int | None, accumulate: int | None, world_size: int) -> int:
    """K from ``--gpus`` (the GPUs of the published schedule) or ``--accumulate``."""
    if gpus is not None and accumulate is not None:
        raise ConfigError('--gpus and --accumulate both given: expected one of them '
                          '(--gpus N accumulates N / (processes) passes per step)')
    if accumulate is not None:
        if accumulate < 1:
            raise ConfigError(f'--accumulate {accumulate}: expected a positive integer')
        return int(accumulate)
    if gpus is None:
        return 1
    if gpus < 1 or gpus % world_size:
        raise ConfigError(f'--gpus {gpus} on {world_size} process(es): expected a multiple '
                          'of the number of processes (the schedule\'s GPUs per process '
                          'become accumulated passes)')
    return gpus // world_size


def apply_accumulation(cfg: Config, steps: int) -> Config:
    """Accumulate ``steps`` passes per optimiser step and stretch the iteration schedule
    by ``steps`` (see the module docstring). Modifies and returns ``cfg``."""
    if steps == 1:
        return cfg
    wrapper = cfg.optim_wrapper
    if wrapper.get('accumulative_counts', 1) != 1:
        raise ConfigError(f"optim_wrapper.accumulative_counts={wrapper['accumulative_counts']} "
                          'already set: remove it or do not pass --gpus/--accumulate')
    wrapper['accumulative_counts'] = steps
    loop = cfg.train_cfg
    if loop.get('type', 'IterBasedTrainLoop') == 'IterBasedTrainLoop' and 'max_iters' in loop:
        loop['max_iters'] = loop['max_iters'] * steps
        if 'val_interval' in loop:
            loop['val_interval'] = loop['val_interval'] * steps
        ckpt = cfg.get('default_hooks', {}).get('checkpoint')
        if ckpt is not None and not ckpt.get('by_epoch', True) and 'interval' in ckpt:
            ckpt['interval'] = ckpt['interval'] * steps
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for scheduler in schedulers:
        if scheduler.get('by_epoch', True) or scheduler.get('convert_to_iter_based'):
            continue   # epoch-based schedules do not depend on the pass count
        for key in ('begin', 'end', 'warmup_iters'):
            if key in scheduler and scheduler[key] is not None:
                scheduler[key] = scheduler[key] * steps
    return cfg


__all__ = ['accumulation_steps', 'apply_accumulation']
