"""Training hooks.

:class:`BatchDropHook`: CLIP-SP's "batch drop" schedule (Sec. 3.5 and Table 5 of the CLIP-SP
paper): a ratio r of the batch has its top-k labels replaced by labels sampled from the
ground truth; r decays exponentially, ``r(t) = max(r_end, r_start * decay^t)`` (decay
0.9999 per iteration, 0.9 -> 0.1 by default), then stays at r_end. Before every training
iteration the hook writes r into the segmentor's train state
(``set_train_state(batch_drop_ratio=r)``), which the segmentor passes to its fusion module
on every call; the model logs the ratio it used as ``fusion.batch_drop_ratio``.

:class:`DatasetMetaHook` (``default_hooks.dataset_meta`` of the open-vocabulary model bases,
``configs/_base_/models/proxyclip_*.py`` and ``segclip_*.py``): an open-vocabulary model's
checkpoints carry the model's own classes
and palette (its ``dataset_meta``, derived from its vocabulary) in ``meta.dataset_meta``
instead of the training set's: a SegCLIP checkpoint from image-text pretraining (whose
training set has no classes) stores the class names of its zero-shot evaluation, which
mmseg's ``init_model`` / ``MMSegInferencer`` read to label overlays.
"""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..registry import HOOKS
from ..utils.errors import ConfigError


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


@HOOKS.register_module()
class DatasetMetaHook(Hook):
    """Write the model's ``dataset_meta`` into every checkpoint's ``meta`` when the model
    derives it from its vocabulary (open-vocabulary segmentors); other models keep the
    training set's, which mmengine's runner writes."""

    priority = 'LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if isinstance(getattr(type(model), 'dataset_meta', None), property):
            checkpoint.setdefault('meta', {})['dataset_meta'] = model.dataset_meta
