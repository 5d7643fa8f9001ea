"""``tools/train.py --amp``: mixed-precision training as mmseg 1.x's ``tools/train.py``."""
from __future__ import annotations

import logging
from typing import Any

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from ..utils.errors import ConfigError


def _type_name(value: Any) -> str:
    """``'OptimWrapper'`` for ``'OptimWrapper'``, ``'mmengine.OptimWrapper'`` or the class."""
    name = value if isinstance(value, str) else getattr(value, '__name__', repr(value))
    return name.rsplit('.', 1)[-1]


def apply_amp(cfg: Config) -> Config:
    """``--amp``, as mmseg 1.x's ``tools/train.py``: an ``OptimWrapper`` becomes an
    ``AmpOptimWrapper`` with ``loss_scale='dynamic'``; an ``AmpOptimWrapper`` is kept with a
    warning; any other wrapper raises :class:`ConfigError` (mmseg asserts). The config is
    changed in place and returned. Needs no CUDA: :func:`check_amp_device` checks the
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


def check_amp_device() -> None:
    """Raise :class:`ConfigError` when ``--amp`` finds no CUDA device."""
    if not torch.cuda.is_available():
        raise ConfigError('--amp needs a CUDA device (mmengine AmpOptimWrapper); none is '
                          'available: train without --amp on CPU')


__all__ = ['apply_amp', 'check_amp_device']
