"""Training hooks.

:class:`BatchDropHook`: CLIP-SP's "batch drop" schedule (paper 003, Sec. 3.5 and Table 5):
a ratio r of the batch has its top-k labels replaced by labels sampled from the ground
truth; r decays exponentially, ``r(t) = max(r_end, r_start * decay^t)`` (decay 0.9999 per
iteration, 0.9 -> 0.1 by default), then stays at r_end. The hook sets the model's
``batch_drop_ratio`` before every training iteration; the model uses it in training only.
"""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..registry import HOOKS


def batch_drop_ratio(iteration: int, r_start: float = 0.9, r_end: float = 0.1,
                     decay: float = 0.9999) -> float:
    """The batch-drop ratio at ``iteration`` (0-based)."""
    return max(r_end, r_start * decay**iteration)


@HOOKS.register_module()
class BatchDropHook(Hook):
    """Set ``model.batch_drop_ratio`` from the schedule before each training iteration."""

    priority = 'NORMAL'

    def __init__(self, r_start: float = 0.9, r_end: float = 0.1, decay: float = 0.9999) -> None:
        if not 0 <= r_end <= r_start <= 1:
            raise ValueError(f'batch drop needs 0 <= r_end <= r_start <= 1, got r_start='
                             f'{r_start}, r_end={r_end}')
        if not 0 < decay <= 1:
            raise ValueError(f'batch drop decay must be in (0, 1], got {decay}')
        self.r_start, self.r_end, self.decay = r_start, r_end, decay

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.batch_drop_ratio = batch_drop_ratio(runner.iter, self.r_start, self.r_end,
                                                  self.decay)
