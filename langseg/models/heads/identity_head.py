"""DenseCLIP's auxiliary "identity head": the score map itself as segmentation logits.

Rao et al. 2022, Sec. 3.2: the pixel-text score map ``S`` (cosine similarities, B x K x
H x W) is divided by a temperature ``tau`` (0.07), upsampled to the label size and
trained with cross-entropy (weight 0.4, ignore index 255). The head has no parameters
and is not used at inference.
"""
from __future__ import annotations

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

from ...registry import MODELS


@MODELS.register_module()
class ScoreMapIdentityHead(BaseDecodeHead):
    """``logits = S / tau``; the loss is mmseg's ``loss_decode`` on them.

    Args:
        num_classes: K (the score map's channels).
        tau: temperature (DenseCLIP: 0.07).
        loss_decode: loss config, e.g. ``dict(type='CrossEntropyLoss', loss_weight=0.4)``.
    """

    def __init__(self, num_classes: int, tau: float = 0.07, **kwargs) -> None:
        kwargs.setdefault('in_channels', num_classes)
        kwargs.setdefault('channels', num_classes)
        kwargs.setdefault('input_transform', None)
        super().__init__(num_classes=num_classes, **kwargs)
        del self.conv_seg  # the score map already has one channel per class
        if self.dropout is not None:
            self.dropout = None
        self.tau = float(tau)

    def init_weights(self) -> None:  # nothing to initialise
        pass

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs``: the score map (B, K, H, W) -> logits ``S / tau``."""
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0]
        return inputs / self.tau
