"""The contract between the language-guided segmentor and its fusion module.

A fusion module sits between the backbone and the neck of
:class:`~langseg.models.segmentors.LanguageGuidedEncoderDecoder` (DenseCLIP's context
decoder, Conv-Former, CLIP-SP's scene refinement). It is called once per forward as::

    output = fusion(features, text, data_samples, state)     # -> a FusionOutput subclass

* ``features``: a :class:`~langseg.models.backbones.output.BackboneOutput`, the backbone's
  ``maps`` and, for a CLIP backbone built ``with_embeddings=True``, its ``embeddings``
  (global, dense), by name; ``text``: the K class embeddings (K, C);
* ``data_samples``: the batch's samples in training (``None`` at inference);
* ``state``: the :class:`TrainState` the segmentor holds. Runner hooks write it through
  ``segmentor.set_train_state(...)`` (e.g. CLIP-SP's batch-drop ratio,
  ``BatchDropHook``), and the segmentor passes it down on every call, so a value a hook
  sets is exactly the value the module uses.

The output is a dataclass of the method's own (``DenseCLIPOutput``, ``ConvFormerOutput``,
``CLIPSPOutput``), a subclass of :class:`FusionOutput`: ``maps`` go to the neck, ``score``
(B, K, H, W) to the identity head (or ``None``), and every other field has a name and a
type. The segmentor reads it through three methods of the module, each with one job:

* :meth:`BaseFusion.loss`: the module's losses (summed into the total);
* :meth:`BaseFusion.log_vars`: scalars to log, not summed (mmseg's ``parse_losses`` sums
  the keys that contain ``'loss'``; the segmentor puts these beside the losses under
  ``fusion.`` and refuses a name that contains ``'loss'``);
* :meth:`BaseFusion.predict_extras`: per-image predictions beside the label map, as
  ``SegDataSample`` fields (CLIP-SP's ``pred_multilabel``), averaged over sliding windows.

A module declares the train-state fields it reads in ``train_state_keys``; setting any
other field is refused, so a hook configured for a model that cannot use it fails loudly
instead of doing nothing. Shared steps live here once: :meth:`BaseFusion.broadcast_text`
(the class embeddings per image) and :meth:`BaseFusion.attach_score` (the score map
concatenated to one level's map).
"""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, fields
from typing import Sequence

import torch
from mmengine.model import BaseModule

from ...utils.errors import ConfigError
from ..backbones.output import BackboneOutput, Embeddings


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
    """What every fusion module returns; methods subclass it with their own fields.

    Attributes:
        maps: the maps the neck receives (``neck_in_channels()`` channels).
        score: the pixel-text score map (B, K, H, W) for the identity head, or ``None``.
    """

    maps: list[torch.Tensor]
    score: torch.Tensor | None = None


class BaseFusion(BaseModule):
    """Base class of the fusion modules (see the module docstring).

    Subclasses receive ``in_channels`` (the backbone's channels), ``text_dim`` and
    ``num_classes`` from the segmentor, and implement :meth:`forward` and
    :meth:`neck_in_channels`; :meth:`loss`, :meth:`log_vars` and :meth:`predict_extras`
    are optional (none by default).
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

    def backbone_embeddings(self, features: BackboneOutput) -> Embeddings:
        """The backbone's (global (B, C), dense (B, C, H, W)) embeddings."""
        if features.embeddings is None:
            raise ConfigError(f'{type(self).__name__} needs a backbone that returns (global, '
                              'dense) embeddings: set with_embeddings=True on a CLIP '
                              'backbone')
        return features.embeddings

    @staticmethod
    def broadcast_text(text: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The class embeddings (K, C) for every image of ``like``'s batch, in its dtype:
        (B, K, C) (a view, no copy)."""
        return text.to(like.dtype).unsqueeze(0).expand(like.shape[0], -1, -1)

    def attach_score(self, maps: Sequence[torch.Tensor], level: int, score: torch.Tensor,
                     image: torch.Tensor | None = None) -> list[torch.Tensor]:
        """``maps`` with the map of ``level`` replaced by ``[image, score]`` along the
        channels (``image`` defaults to that map itself); the score map must have its
        spatial size."""
        maps = list(maps)
        target = maps[level]
        if target.shape[-2:] != score.shape[-2:]:
            raise ConfigError(f'{type(self).__name__}: score map {tuple(score.shape[-2:])} '
                              f'does not match the map of level {level} '
                              f'{tuple(target.shape[-2:])}: choose the score_level of the '
                              "embeddings' stride")
        maps[level] = torch.cat([target if image is None else image, score], dim=1)
        return maps

    @abstractmethod
    def forward(self, features: BackboneOutput, text: torch.Tensor,
                data_samples: list | None = None,
                state: TrainState | None = None) -> FusionOutput:
        """The fused maps (and score map) of one batch; ``state`` is the segmentor's
        :class:`TrainState` (``None`` outside training)."""

    def loss(self, output: FusionOutput, data_samples: list) -> dict[str, torch.Tensor]:
        """The module's own losses (every one summed into the total)."""
        return {}

    def log_vars(self, output: FusionOutput) -> dict[str, torch.Tensor]:
        """Scalars logged beside the losses in training, not summed (names without
        ``'loss'``)."""
        return {}

    def predict_extras(self, output: FusionOutput) -> dict[str, torch.Tensor]:
        """Predictions besides the label map, as ``SegDataSample`` field names mapped to
        a (B, ...) tensor; the segmentor averages them over sliding windows and sets them
        on each image's sample."""
        return {}
