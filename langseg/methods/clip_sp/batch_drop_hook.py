"""CLIP-SP's "batch drop" schedule (Li et al., "CLIP-SP: Vision-language model with adaptive
prompting for scene parsing", Computational Visual Media 2024, doi:10.1007/s41095-024-0430-4,
Sec. 3.5 and Table 5): a ratio r of the batch has its top-k labels replaced by labels sampled
from the ground truth; r decays exponentially, ``r(t) = max(r_end, r_start * decay^t)``
(decay 0.9999 per iteration, 0.9 -> 0.1 by default), then stays at r_end. Before every
training iteration :class:`BatchDropHook` writes r into the segmentor's train state
(``set_train_state(batch_drop_ratio=r)``), which the segmentor passes to its fusion module
on every call; the model logs the ratio it used as ``fusion.batch_drop_ratio``.
"""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...registry import HOOKS
from ...utils.errors import ConfigError


def batch_drop_ratio(iteration: int, r_start: float = 0.9, r_end: float = 0.1,
                     decay: float = 0.9999) -> float:
    """The batch-drop ratio at ``iteration`` (0-based)."""
    return max(r_end, r_start * decay**iteration)


@HOOKS.register_module()
class BatchDropHook(Hook):
    """Write the scheduled ratio into the model's train state before each training
    iteration (the model must have ``set_train_state``, e.g. the language-guided segmentor
    with a CLIP-SP fusion)."""

    priority = 'NORMAL'

    def __init__(self, r_start: float = 0.9, r_end: float = 0.1, decay: float = 0.9999) -> None:
        if not 0 <= r_end <= r_start <= 1:
            raise ConfigError(f'BatchDropHook r_start={r_start}, r_end={r_end}: expected '
                              '0 <= r_end <= r_start <= 1')
        if not 0 < decay <= 1:
            raise ConfigError(f'BatchDropHook decay={decay}: expected 0 < decay <= 1')
        self.r_start, self.r_end, self.decay = r_start, r_end, decay

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'set_train_state'):
            raise ConfigError(f'BatchDropHook needs a segmentor with set_train_state (the '
                              f'language-guided segmentor with a CLIP-SP fusion), got '
                              f'{type(model).__name__}: remove the hook from custom_hooks')
        model.set_train_state(batch_drop_ratio=batch_drop_ratio(
            runner.iter, self.r_start, self.r_end, self.decay))
