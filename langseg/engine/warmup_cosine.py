"""The official SegCLIP learning-rate schedule as an mmengine parameter scheduler.

The official SegCLIP code (github.com/ArrowLuo/SegCLIP, ``modules/optimization_adamw.py``
``warmup_cosine``, used by ``main_task_align.py`` with ``--warmup_proportion 0.15``,
``--lr_start 0``, ``--lr_end 0``) scales every group's lr at optimiser step ``k`` (counted
from 1) of ``T`` by ``f(k / T)``::

    f(x) = lr_start + x (1 - lr_start) / w                          x < w
    f(x) = lr_end + (1 - lr_end) (1 + cos(pi (x - w) / (1 - w))) / 2   otherwise

:class:`WarmupCosineLR` is that closed form over the scheduler's ``[begin, end)``:
mmengine's iteration ``i`` (counted from 0) is the official step ``k = i - begin + 1``, so
the warm-up starts from ``lr_start = 0`` and the first update already uses ``1 / (w T)``
of the lr, as the official one does. (mmengine's ``LinearLR`` cannot start from 0: its
chained form stays at 0 and divides by zero at the next step.)
"""
from __future__ import annotations

import math

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmseg.registry import PARAM_SCHEDULERS

from ..utils.errors import ConfigError


def warmup_cosine_factor(x: float, warmup: float, lr_start: float = 0.0,
                         lr_end: float = 0.0) -> float:
    """The official ``warmup_cosine(x, warmup, lr_start, lr_end)`` (see module docstring)."""
    if x < warmup:
        return x * (1.0 - lr_start) / warmup + lr_start
    progress = (x - warmup) / (1.0 - warmup)
    return lr_end + 0.5 * (1.0 - lr_end) * (1.0 + math.cos(math.pi * progress))


@PARAM_SCHEDULERS.register_module()
class WarmupCosineLR(LRSchedulerMixin, _ParamScheduler):
    """Linear warm-up from ``lr_start`` x lr over the first ``warmup`` share of
    ``[begin, end)``, then cosine to ``lr_end`` x lr (factors of each group's initial lr),
    evaluated in closed form at step ``i - begin + 1`` of ``end - begin``.

    Args:
        warmup: share of the schedule spent warming up (SegCLIP: 0.15), in [0, 1).
        lr_start, lr_end: factors of the lr at the start and at the end (SegCLIP: 0, 0).
        begin, end, by_epoch: as every mmengine scheduler; with ``by_epoch=True`` and
            ``convert_to_iter_based=True`` it is stepped per iteration.
    """

    def __init__(self, optimizer, warmup: float = 0.15, lr_start: float = 0.0,
                 lr_end: float = 0.0, begin: int = 0, end: int = INF, last_step: int = -1,
                 by_epoch: bool = True, verbose: bool = False) -> None:
        if not 0.0 <= warmup < 1.0:
            raise ConfigError(f'WarmupCosineLR warmup={warmup}: expected a share in [0, 1)')
        if end == INF:
            raise ConfigError('WarmupCosineLR needs a finite end (the last epoch or '
                              'iteration of the schedule)')
        self.warmup, self.lr_start, self.lr_end = float(warmup), float(lr_start), float(lr_end)
        super().__init__(optimizer, begin=begin, end=end,
                         last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args, begin=0, end=INF, by_epoch=True,
                              epoch_length=None, **kwargs):
        """The iteration-based scheduler of an epoch-based config (as mmengine's own)."""
        if not by_epoch:
            raise ConfigError('convert_to_iter_based needs by_epoch=True')
        if not epoch_length or epoch_length <= 0:
            raise ConfigError(f'WarmupCosineLR: epoch_length must be a positive integer, '
                              f'got {epoch_length}')
        begin = int(begin * epoch_length)
        if end != INF:
            end = int(end * epoch_length)
        return cls(*args, begin=begin, end=end, by_epoch=False, **kwargs)

    def factor(self, step: int) -> float:
        """The lr factor at this scheduler's ``step`` (0 = its first iteration)."""
        total = self.end - self.begin
        return warmup_cosine_factor(min(step + 1, total) / total, self.warmup,
                                    self.lr_start, self.lr_end)

    def _get_value(self):
        return [base * self.factor(self.last_step) for base in self.base_values]
