"""The language-guided encoder-decoder shared by DenseCLIP, Conv-Former and CLIP-SP.

    image -> backbone -> maps (+ [global, dense] embeddings)
    class names -> text encoder (frozen and cached, or with learnable contexts) -> T
    (maps, T) -> fusion -> maps with the score map concatenated, score map S
    maps -> neck (FPN) -> decode head -> logits;   S -> identity head (auxiliary loss)

The fusion module (``DenseCLIPFusion``, ``ConvFormerNeck``, ``CLIPSPFusion``) is a
:class:`~langseg.models.necks.base_fusion.BaseFusion`: called as
``fusion(features, text, data_samples, state) -> FusionOutput(maps, score, extras)``, with
``neck_in_channels()``, ``uses_backbone_embeddings`` (the backbone's (global, dense)
embeddings must then be in the text width) and ``loss(output, data_samples)`` (added to
the losses under ``fusion.``); ``extras['multilabel_probs']`` is stored as
``pred_multilabel``. Its constructor receives ``in_channels`` (the backbone's channels,
read from the neck's ``in_channels``, or the decode head's when there is no neck),
``text_dim`` and ``num_classes`` from the segmentor; the neck (or head) is then built with
the fused channels, so a config lists the *backbone's* channels and changing the class
list needs no other edit.

Train-time state: the segmentor holds a
:class:`~langseg.models.necks.base_fusion.TrainState`; hooks write it with
:meth:`LanguageGuidedEncoderDecoder.set_train_state` (which refuses a field the fusion
does not read) and every fusion call receives it.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from mmengine.utils import is_list_of
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import add_prefix

from ...registry import MODELS
from ...utils.errors import ConfigError
from ..clip.text_encoder import resolve_class_names
from ..necks.base_fusion import BaseFusion, FusionOutput, TrainState


@MODELS.register_module()
class LanguageGuidedEncoderDecoder(EncoderDecoder):
    """EncoderDecoder with a text encoder, a fusion module and an identity head.

    Args:
        class_names: the K class names (list, a dataset key such as ``'ade20k'``, or a
            class file); given to the text encoder. ``decode_head.num_classes=None`` takes
            K from them.
        text_encoder: config of the text encoder (``FrozenCLIPTextEncoder`` or
            ``LearnableContextTextEncoder``); its ``class_names`` are filled in.
        fusion: config of the fusion module; ``in_channels``, ``text_dim`` and
            ``num_classes`` are filled in.
        identity_head: optional auxiliary head on the score map
            (``ScoreMapIdentityHead``); ``num_classes`` is filled in.
        backbone, neck, decode_head, auxiliary_head, train_cfg, test_cfg,
        data_preprocessor, init_cfg: as for mmseg's ``EncoderDecoder``.
    """

    def __init__(self, backbone: dict, text_encoder: dict, fusion: dict,
                 decode_head: dict, class_names: str | Sequence[str],
                 neck: dict | None = None, auxiliary_head: dict | list | None = None,
                 identity_head: dict | None = None, train_cfg: dict | None = None,
                 test_cfg: dict | None = None, data_preprocessor: dict | None = None,
                 pretrained: str | None = None, init_cfg: dict | None = None) -> None:
        names = resolve_class_names(class_names)
        if not names:
            raise ConfigError('model.class_names is empty: expected a list of class '
                              "names or a dataset key such as 'ade20k'")
        if decode_head.get('num_classes') is None:   # the class list decides (own data)
            decode_head = dict(decode_head, num_classes=len(names))
        if decode_head.get('num_classes') != len(names):
            raise ConfigError(f"decode_head.num_classes={decode_head.get('num_classes')} "
                              f'but model.class_names has {len(names)} names: expected '
                              'the same K')
        text_encoder_module = MODELS.build(dict(text_encoder, class_names=names))
        target = 'neck' if neck is not None else 'decode_head'
        receiver = copy.deepcopy(neck if neck is not None else decode_head)
        if not is_list_of(list(receiver.get('in_channels', [])), int):
            raise ConfigError(f'{target}.in_channels must list the backbone channels')
        fusion_module = MODELS.build(dict(fusion, in_channels=list(receiver['in_channels']),
                                          text_dim=text_encoder_module.embed_dim,
                                          num_classes=len(names)))
        receiver['in_channels'] = fusion_module.neck_in_channels()
        if neck is not None:
            neck = receiver
        else:
            decode_head = receiver
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck,
                         auxiliary_head=auxiliary_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         pretrained=pretrained, init_cfg=init_cfg)
        self.class_names = names
        self.text_encoder = text_encoder_module
        self.fusion = fusion_module
        if not isinstance(fusion_module, BaseFusion):
            raise ConfigError(f'model.fusion {type(fusion_module).__name__} is not a '
                              'BaseFusion (langseg.models.necks.base_fusion): expected a '
                              'fusion module such as DenseCLIPFusion')
        self.train_state = TrainState()
        self.identity_head = MODELS.build(dict(identity_head, num_classes=len(names))) \
            if identity_head is not None else None
        self._multilabel_buffer: list | None = None
        embed_dim = getattr(self.backbone, 'embed_dim', None)
        if embed_dim is not None and embed_dim != text_encoder_module.embed_dim \
                and fusion_module.uses_backbone_embeddings:
            raise ConfigError(f'the backbone embeds in {embed_dim} dims but the text encoder '
                              f'in {text_encoder_module.embed_dim}: expected the same CLIP '
                              'architecture for both')

    @property
    def with_identity_head(self) -> bool:
        return self.identity_head is not None

    def set_train_state(self, **values) -> None:
        """Set fields of the train state passed to the fusion module (hooks call this,
        e.g. ``BatchDropHook``). A field the fusion module does not read is refused."""
        for name, value in values.items():
            if name not in self.fusion.train_state_keys:
                raise ConfigError(f'{type(self.fusion).__name__} does not use the train-state '
                                  f'field {name!r} (it reads '
                                  f'{list(self.fusion.train_state_keys) or "none"}): remove '
                                  'the hook that sets it, or use a fusion that reads it')
            setattr(self.train_state, name, value)

    def _extract(self, inputs: torch.Tensor, data_samples: list | None = None
                 ) -> FusionOutput:
        """Backbone, text encoder, fusion (with the train state) and neck."""
        features = self.backbone(inputs)
        text = self.text_encoder()
        out = self.fusion(features, text, data_samples, self.train_state)
        if self.with_neck:
            out.maps = self.neck(out.maps)
        if self._multilabel_buffer is not None and 'multilabel_probs' in out.extras:
            self._multilabel_buffer.append(out.extras['multilabel_probs'].detach())
        return out

    def extract_feat(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        return self._extract(inputs).maps

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        """Decode-head loss + auxiliary heads + identity loss on the score map + the
        fusion module's own losses (e.g. CLIP-SP's ASL and attention loss)."""
        out = self._extract(inputs, data_samples)
        x, score = out.maps, out.score
        losses = dict()
        losses.update(self._decode_head_forward_train(x, data_samples))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        if self.with_identity_head:
            losses.update(add_prefix(
                self.identity_head.loss(score, data_samples, self.train_cfg), 'identity'))
        losses.update(add_prefix(self.fusion.loss(out, data_samples), 'fusion'))
        return losses

    def predict(self, inputs: torch.Tensor, data_samples: list | None = None) -> list:
        """mmseg's prediction; a fusion that classifies labels (CLIP-SP) also adds
        ``pred_multilabel`` (K probabilities, averaged over sliding windows)."""
        self._multilabel_buffer = []
        try:
            results = super().predict(inputs, data_samples)
        finally:
            buffer, self._multilabel_buffer = self._multilabel_buffer, None
        if buffer:
            probs = torch.stack(buffer).mean(dim=0)
            for sample, p in zip(results, probs):
                sample.set_field(p, 'pred_multilabel')
        return results
