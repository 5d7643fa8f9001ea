"""cuDNN's deterministic mode as the official SegCLIP launch sets it.

The official SegCLIP code (github.com/ArrowLuo/SegCLIP, ``main_task_align.py``
``set_seed_logger``) seeds python, numpy and torch with 42 and sets
``torch.backends.cudnn.deterministic = True`` and ``cudnn.benchmark = False``, nothing
more. mmengine's ``randomness=dict(deterministic=True)`` also calls
``torch.use_deterministic_algorithms(True)``, which is stricter than the official run and
stops a CUDA run at its first cuBLAS matmul unless ``CUBLAS_WORKSPACE_CONFIG`` is set (and
at any op without a deterministic kernel). So a config that wants the official setting
uses ``randomness=dict(seed=42)`` with ``custom_hooks=[dict(type='CuDNNDeterministicHook')]``,
which sets exactly the two cuDNN flags before the run.
"""
from __future__ import annotations

import torch
from mmengine.hooks import Hook
from ..registry import HOOKS


@HOOKS.register_module()
class CuDNNDeterministicHook(Hook):
    """``before_run``: ``cudnn.deterministic = True``, ``cudnn.benchmark = False`` (and
    nothing else; see the module docstring)."""

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
