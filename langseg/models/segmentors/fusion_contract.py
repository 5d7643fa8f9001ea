"""The contract between the language-guided segmentor and its fusion module.

A fusion module sits between the backbone and the neck of
:class:`~langseg.models.segmentors.LanguageGuidedEncoderDecoder` (DenseCLIP's context
decoder, Conv-Former, CLIP-SP's scene refinement). It is called once per forward as::

    output = fusion(features, text, data_samples, state)     # -> FusionOutput

* ``features``: the backbone's maps, plus ``[global, dense]`` embeddings when the
  backbone returns them; ``text``: the K class embeddings (K, C);
* ``data_samples``: the batch's samples in training (``None`` at inference);
* ``state``: the :class:`TrainState` the segmentor holds. Runner hooks write it through
  ``segmentor.set_train_state(...)`` (e.g. CLIP-SP's batch-drop ratio,
  ``BatchDropHook``), and the segmentor passes it down on every call, so a value a hook
  sets is exactly the value the module uses.

``FusionOutput.maps`` go to the neck, ``score`` (B, K, H, W) to the identity head (or
``None``), ``extras`` to :meth:`BaseFusion.loss` and, with ``'multilabel_probs'``, to the
segmentor's ``pred_multilabel``. A module declares the train-state fields it reads in
``train_state_keys``; setting any other field is refused, so a hook configured for a model
that cannot use it fails loudly instead of doing nothing.
"""
from __future__ import annotations

from abc import abstractmethod

from dataclasses import dataclass, field, fields
from typing import Any, Sequence

import torch
from mmengine.model import BaseModule

from ...utils.errors import ConfigError


@dataclass
class TrainState:
    """Train-time values set by hooks and read by the fusion module.

    Attributes:
        batch_drop_ratio: CLIP-SP's batch drop (Sec. 3.5): the fraction of the batch whose
            scene labels come from the ground truth; 0 outside training.
    """

    batch_drop_ratio: float = 0.0

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass
class FusionOutput:
    """What a fusion module returns (see the module docstring)."""

    maps: list[torch.Tensor]
    score: torch.Tensor | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class BaseFusion(BaseModule):
    """Base class of the fusion modules (see the module docstring).

    Subclasses receive ``in_channels`` (the backbone's channels), ``text_dim`` and
    ``num_classes`` from the segmentor, and implement :meth:`forward` and
    :meth:`neck_in_channels`; :meth:`loss` is optional (no losses by default).
    """

    #: Whether the backbone's (global, dense) embeddings are used: they must then be in the
    #: text width (the segmentor checks it).
    uses_backbone_embeddings: bool = True
    #: The :class:`TrainState` fields this module reads.
    train_state_keys: tuple[str, ...] = ()

    def __init__(self, in_channels: Sequence[int], text_dim: int, num_classes: int,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = list(in_channels)
        self.text_dim, self.num_classes = int(text_dim), int(num_classes)
        unknown = set(self.train_state_keys) - set(TrainState.field_names())
        if unknown:
            raise ConfigError(f'{type(self).__name__} reads unknown train-state fields '
                              f'{sorted(unknown)}: expected {TrainState.field_names()}')

    @abstractmethod
    def neck_in_channels(self) -> list[int]:
        """Channels of the maps the neck receives."""

    def backbone_embeddings(self, features: Sequence) -> tuple[torch.Tensor, torch.Tensor]:
        """The backbone's (global (B, C), dense (B, C, H, W)) embeddings."""
        if len(features) <= len(self.in_channels):
            raise ValueError(f'{type(self).__name__} needs a backbone that returns (global, '
                             'dense) embeddings: set with_embeddings=True on a CLIP '
                             'backbone')
        global_emb, dense = features[len(self.in_channels)]
        return global_emb, dense

    @abstractmethod
    def forward(self, features: Sequence, text: torch.Tensor,
                data_samples: list | None = None,
                state: TrainState | None = None) -> FusionOutput:
        """The fused maps (and score map) of one batch; ``state`` is the segmentor's
        :class:`TrainState` (``None`` outside training)."""

    def loss(self, output: FusionOutput, data_samples: list) -> dict[str, torch.Tensor]:
        """The module's own losses (and logged scalars without 'loss' in their name)."""
        return {}
