"""The poly learning-rate schedule with warm-up as mmcv 1.x runs it.

DenseCLIP's official configs (mmseg 0.x / mmcv 1.x) set
``lr_config = dict(policy='poly', power=0.9, min_lr=1e-6, by_epoch=False, warmup='linear',
warmup_iters=1500, warmup_ratio=1e-6)``. mmcv 1.x's ``PolyLrUpdaterHook`` computes, at
iteration ``i`` of ``max_iters`` (mmcv 1.x docs, ``mmcv.runner.hooks.lr_updater``)::

    regular_lr(i) = (base_lr - min_lr) * (1 - i / max_iters) ** power + min_lr
    lr(i) = regular_lr(i) * (1 - (1 - i / warmup_iters) * (1 - warmup_ratio))  if i < warmup_iters
    lr(i) = regular_lr(i)                                                      otherwise

i.e. the warm-up *multiplies* the poly value and the poly curve runs over the whole
schedule (it is not restarted when the warm-up ends). mmengine's ``LinearLR`` followed by
``PolyLR(begin=1500)`` restarts the poly decay at 1500 from the base lr, which is 1.7 %
higher between 1.5k and 70k iterations. :class:`PolyLRWithWarmup` is the mmcv 1.x curve as
an mmengine parameter scheduler (closed form, so resuming from ``last_step`` gives the same
values). ``min_lr`` (``eta_min``) is absolute for every parameter group, as in mmcv 1.x (a
group with ``lr_mult`` 0.1 decays from 1e-5 to 1e-6).

Gradient accumulation (:mod:`langseg.engine.accumulation`) multiplies ``begin``, ``end``
and ``warmup_iters`` by the number of passes per step, so the curve is the same per
optimiser step.
"""
from __future__ import annotations

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmseg.registry import PARAM_SCHEDULERS

from ..utils.errors import ConfigError


def mmcv1_poly_warmup_factor(step: int, total: int, warmup_iters: int, warmup_ratio: float,
                             power: float) -> tuple[float, float]:
    """``(poly coefficient (1 - i/total)**power, warm-up multiplier)`` at ``step``."""
    coeff = (1 - step / total)**power
    warm = 1.0
    if step < warmup_iters:
        warm = 1 - (1 - step / warmup_iters) * (1 - warmup_ratio)
    return coeff, warm


@PARAM_SCHEDULERS.register_module()
class PolyLRWithWarmup(LRSchedulerMixin, _ParamScheduler):
    """mmcv 1.x ``policy='poly'`` with ``warmup='linear'`` (see the module docstring).

    Args:
        optimizer: wrapped optimiser.
        power: poly power (0.9 in DenseCLIP).
        eta_min: absolute minimum learning rate at ``end`` (mmcv's ``min_lr``).
        warmup_iters: linear warm-up length in steps (0: no warm-up).
        warmup_ratio: the warm-up's starting multiplier (mmcv's ``warmup_ratio``).
        begin, end: the steps the schedule spans (``end - begin`` is mmcv's ``max_iters``).
        by_epoch: must be False (iteration-based, as the official schedules).
    """

    def __init__(self, optimizer, power: float = 0.9, eta_min: float = 0.0,
                 warmup_iters: int = 0, warmup_ratio: float = 0.1, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = False,
                 verbose: bool = False) -> None:
        if by_epoch:
            raise ConfigError('PolyLRWithWarmup is iteration-based (mmcv 1.x by_epoch=False): '
                              'expected by_epoch=False')
        if end == INF:
            raise ConfigError('PolyLRWithWarmup needs end (the last iteration of the '
                              'schedule, mmcv max_iters)')
        if warmup_iters < 0 or not 0 < warmup_ratio <= 1:
            raise ConfigError(f'PolyLRWithWarmup warmup_iters={warmup_iters}, warmup_ratio='
                              f'{warmup_ratio}: expected warmup_iters >= 0 and 0 < '
                              'warmup_ratio <= 1')
        self.power, self.eta_min = power, eta_min
        self.warmup_iters, self.warmup_ratio = int(warmup_iters), warmup_ratio
        self.total_iters = end - begin
        super().__init__(optimizer, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _get_value(self) -> list[float]:
        coeff, warm = mmcv1_poly_warmup_factor(self.last_step, self.total_iters,
                                               self.warmup_iters, self.warmup_ratio,
                                               self.power)
        return [((base - self.eta_min) * coeff + self.eta_min) * warm
                for base in self.base_values]


__all__ = ['PolyLRWithWarmup', 'mmcv1_poly_warmup_factor']
