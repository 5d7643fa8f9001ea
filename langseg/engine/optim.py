"""An optimiser constructor whose parameter groups the model names.

``LRGroupsOptimWrapperConstructor`` asks ``model.lr_group(name)`` for the group of every
trainable parameter and gives each group its learning rate from
``paramwise_cfg=dict(group_lrs=dict(low=4e-6, high=4e-3))`` (SegCLIP's two rates,
the official SegCLIP code (github.com/ArrowLuo/SegCLIP)). Weight decay exempts the
parameters whose name contains one of ``paramwise_cfg.no_decay_names`` (default
``('bias',)``): the official SegCLIP rule (``main_task_align.py``: ``no_decay = ['bias',
'LayerNorm.bias', 'LayerNorm.weight']``, and no CLIP or SegCLIP module is named
``LayerNorm``), so LayerNorm gains, the group module's norms, the logit scale, the centers
and the mask token are decayed. Frozen parameters are left out.
"""
from __future__ import annotations

from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

from ..utils.errors import ConfigError


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LRGroupsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """See the module docstring."""

    def add_params(self, params: list, module: nn.Module, prefix: str = '',
                   is_dcn_module=None) -> None:
        model = getattr(module, 'module', module)       # unwrap DDP
        if not hasattr(model, 'lr_group'):
            raise ConfigError(f'{type(model).__name__} has no lr_group(name): use the '
                              'default optimiser constructor')
        group_lrs = dict(self.paramwise_cfg.get('group_lrs', {}))
        decay = self.base_wd or 0.0
        no_decay = self.paramwise_cfg.get('no_decay_names', ('bias', ))
        if isinstance(no_decay, str) or not all(isinstance(k, str) for k in no_decay):
            raise ConfigError(f'paramwise_cfg.no_decay_names={no_decay!r}: expected a list of '
                              "name fragments, e.g. ('bias',)")
        groups: dict[tuple[str, bool], dict] = {}
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            group = model.lr_group(name)
            if group not in group_lrs:
                raise ConfigError(f'parameter {name} is in lr group {group!r}, which '
                                  f'paramwise_cfg.group_lrs {sorted(group_lrs)} lacks')
            with_decay = not any(key in name for key in no_decay)
            entry = groups.setdefault((group, with_decay), dict(
                params=[], lr=group_lrs[group], weight_decay=decay if with_decay else 0.0))
            entry['params'].append(param)
        params.extend(groups[k] for k in sorted(groups))
