"""Training hooks.

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
