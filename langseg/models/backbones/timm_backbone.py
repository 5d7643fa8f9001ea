"""Any timm model as a multi-level backbone (Xception, EfficientFormer, ...).

One generic wrapper: the timm model (``timm.create_model``) pruned after its last wanted
feature level (``prune_intermediate_layers``: the classifier head goes), run with
``forward_intermediates``. Its parameter names are the classifier's, so ImageNet weights
from a timm tag (downloaded by timm) or a local file load with an exact key check, in
:meth:`init_weights`. The channels of the returned maps are in ``out_channels`` (timm's
``feature_info``), for the neck's ``in_channels``.
"""
from __future__ import annotations

import os.path as osp
from typing import Sequence

import timm
import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule

from ...registry import MODELS
from ...utils.errors import CheckpointError, ConfigError, did_you_mean
from ...utils.state_dict import load_state_dict_checked, read_state_dict

@MODELS.register_module()
class TimmFeatureBackbone(BaseModule):
    """A timm model's feature pyramid.

    Args:
        model_name: timm model name, e.g. ``'xception65'``, ``'efficientformerv2_s1'``.
        pretrained: ``None``/``False`` (random), ``True`` (timm's default tag), a timm tag
            (``'efficientformerv2_s1.snap_dist_in1k'``) or a local weights file
            (.pth/.bin loaded with ``weights_only=True``, or .safetensors).
        out_indices: feature levels returned (timm's indices); default: the last four
            (strides 4-32 for most models).
        **timm_kwargs: passed to ``timm.create_model`` (e.g. ``drop_path_rate``).
    """

    def __init__(self,
                 model_name: str,
                 pretrained: bool | str | None = None,
                 out_indices: Sequence[int] | None = None,
                 init_cfg: dict | None = None,
                 **timm_kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        if not timm.is_model(model_name):
            hint = did_you_mean(model_name, timm.list_models(), cutoff=0.6)
            raise ConfigError(f'unknown timm model {model_name!r}: expected a name of '
                              f'timm.list_models(){hint}')
        self.model_name, self.pretrained = model_name, pretrained
        self.model = timm.create_model(model_name, pretrained=False, **timm_kwargs)
        levels = len(self.model.feature_info)
        if out_indices is None:
            out_indices = range(max(levels - 4, 0), levels)
        self.out_indices = [int(i) for i in out_indices]
        info = [self.model.feature_info[i] for i in self.out_indices]
        self.out_channels = [f['num_chs'] for f in info]
        self.strides = [f['reduction'] for f in info]
        full_keys = set(self.model.state_dict())
        self.model.prune_intermediate_layers(self.out_indices, prune_norm=False,
                                             prune_head=True)
        # Classifier keys a pretrained file has and the pruned model does not.
        self.pruned_keys = frozenset(full_keys - set(self.model.state_dict()))

    def _pretrained_state_dict(self) -> dict[str, torch.Tensor]:
        return timm_state_dict(self.model_name, self.pretrained)

    def init_weights(self) -> None:
        super().init_weights()
        if not self.pretrained:
            return
        state = self._pretrained_state_dict()
        state = {k: v for k, v in state.items() if k not in self.pruned_keys}
        load_state_dict_checked(self.model, state, self.model_name)
        print_log(f'loaded {self.model_name} weights: {len(state)} tensors; head keys '
                  f'skipped: {len(self.pruned_keys)}', logger='current')

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.model.forward_intermediates(x, indices=self.out_indices,
                                                      intermediates_only=True))


def timm_state_dict(model_name: str, source: bool | str) -> dict[str, torch.Tensor]:
    """timm weights for ``model_name``: ``True`` (its default tag), a tag (``'dino'``,
    ``'vit_base_patch8_224.dino'``) or a local file (.safetensors / .pth, loaded with
    ``weights_only=True``). A failed download names the weights and how to pass a file."""
    if isinstance(source, str) and osp.isfile(osp.expanduser(source)):
        return read_state_dict(source)[0]
    name = model_name if source is True else str(source)
    if '.' not in name and source is not True:
        name = f'{model_name.split(".")[0]}.{name}'  # a bare tag
    try:
        return timm.create_model(name, pretrained=True).state_dict()
    except Exception as exc:  # no network, unknown tag
        reason = ' '.join(str(exc).split())[:200] or type(exc).__name__
        raise CheckpointError(
            f'cannot get timm weights {name} ({reason}): download them where there is '
            f"network access (timm.create_model('{name}', pretrained=True) saves them "
            "in the Hugging Face cache) and pass the file: pretrained='/path/to/"
            "model.safetensors'") from None
