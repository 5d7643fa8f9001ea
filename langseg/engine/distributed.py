"""``--launcher``: multi-process runs, also on machines without CUDA.

``cfg.launcher`` is set to the flag, as mmseg 1.x's tools do. Without CUDA, mmengine's
``init_dist`` fails (it calls ``torch.cuda.set_device``), so :func:`setup_distributed`
initialises the process group on gloo itself (env:// from torchrun); mmengine then finds it
initialised and leaves ``env_cfg.dist_cfg`` unused. The CPU model wrapper is chosen by
:class:`~langseg.engine.runner.LangsegRunner` (the ``runner_type`` of
``configs/_base_/default_runtime.py``), not written into the config.
"""
from __future__ import annotations

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from ..utils.errors import ConfigError


def setup_distributed(cfg: Config, launcher: str) -> None:
    """Set ``cfg.launcher`` (the ``--launcher`` flag); without CUDA, start the gloo process
    group of a ``torchrun`` job (:class:`ConfigError` for other launchers)."""
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ConfigError(f'--launcher {launcher} without CUDA is not supported: use '
                          'torchrun with --launcher pytorch for CPU processes')
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')
    print_log("no CUDA device: the processes use the backend='gloo' (env_cfg.dist_cfg is "
              'not used) and CPUDistributedDataParallel', logger='current')


__all__ = ['setup_distributed']
