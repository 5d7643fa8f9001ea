"""The language-guided encoder-decoder shared by DenseCLIP, Conv-Former and CLIP-SP.

    image -> backbone -> BackboneOutput(maps, embeddings (global, dense) or None)
    class names -> text encoder (frozen and cached, or with learnable contexts) -> T
    (BackboneOutput, T) -> fusion -> a typed output: maps (score map concatenated), score S
    maps -> neck (FPN) -> decode head -> logits;   S -> identity head (auxiliary loss)

The fusion module (``DenseCLIPFusion``, ``ConvFormerFusion``, ``CLIPSPFusion``) is a
:class:`~langseg.models.segmentors.fusion_contract.BaseFusion`: called as
``fusion(features, text, data_samples, state)``, it returns its method's subclass of
``FusionOutput(maps, score)``. The segmentor reads that output only through the module:
``loss(output, data_samples)`` (added to the losses under ``fusion.``),
``log_vars(output)`` (logged under ``fusion.``, never summed) and
``predict_extras(output)`` (fields set on each predicted sample, e.g. CLIP-SP's
``pred_multilabel``, averaged over sliding windows). A backbone that returns mmseg's plain
tuple of maps is read as ``BackboneOutput(maps, embeddings=None)``
(:meth:`BackboneOutput.of`). The fusion's constructor receives ``in_channels`` (the
backbone's channels, read from the neck's ``in_channels``, or the decode head's when there
is no neck), ``text_dim`` and ``num_classes`` from the segmentor; the neck (or head) is
then built with the fused channels, so a config lists the *backbone's* channels and
changing the class list needs no other edit.

Train-time state: the segmentor holds a
:class:`~langseg.models.segmentors.fusion_contract.TrainState`; hooks write it with
:meth:`LanguageGuidedEncoderDecoder.set_train_state` (which refuses a field the fusion
does not read) and every fusion call receives it.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
import torch.nn.functional as F
from mmengine.utils import is_list_of
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import add_prefix

from ...registry import MODELS
from ...utils.errors import ConfigError
from ..backbones.output import BackboneOutput
from ..clip.text_encoder import resolve_class_names
from .fusion_contract import BaseFusion, FusionOutput, TrainState


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
                              'BaseFusion (langseg.models.segmentors.fusion_contract): '
                              'expected a '
                              'fusion module such as DenseCLIPFusion')
        self.train_state = TrainState()
        self.identity_head = MODELS.build(dict(identity_head, num_classes=len(names))) \
            if identity_head is not None else None
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

    def _fuse(self, inputs: torch.Tensor, data_samples: list | None = None
              ) -> FusionOutput:
        """Backbone, text encoder and fusion (with the train state): the fusion's output,
        before the neck."""
        features = BackboneOutput.of(self.backbone(inputs))
        if len(features.maps) != len(self.fusion.in_channels):
            raise ConfigError(f'the backbone returns {len(features.maps)} maps but the '
                              f'fusion expects {len(self.fusion.in_channels)} (the '
                              "in_channels of the neck, or the decode head's): expected "
                              'one channel count per backbone map')
        return self.fusion(features, self.text_encoder(), data_samples, self.train_state)

    def _neck(self, maps: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.neck(maps) if self.with_neck else maps

    def extract_feat(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Backbone, text encoder, fusion and neck: the maps the decode head reads."""
        return self._neck(self._fuse(inputs).maps)

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        """Decode-head loss + auxiliary heads + identity loss on the score map + the
        fusion module's own losses (e.g. CLIP-SP's ASL and attention loss) and logged
        scalars."""
        out = self._fuse(inputs, data_samples)
        x, score = self._neck(out.maps), out.score
        losses = dict()
        losses.update(self._decode_head_forward_train(x, data_samples))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        if self.with_identity_head:
            losses.update(add_prefix(
                self.identity_head.loss(score, data_samples, self.train_cfg), 'identity'))
        losses.update(add_prefix(self.fusion.loss(out, data_samples), 'fusion'))
        # mmseg's parse_losses sums every key containing 'loss' and logs the others: the
        # one place where logged scalars join the loss dict.
        logged = self.fusion.log_vars(out)
        summed_by_mistake = [name for name in logged if 'loss' in name]
        if summed_by_mistake:
            raise ValueError(f'{type(self.fusion).__name__}.log_vars names '
                             f'{summed_by_mistake} contain "loss": mmseg would sum them')
        losses.update(add_prefix(logged, 'fusion'))
        return losses

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: list[dict]
                      ) -> torch.Tensor:
        return self._encode_decode_with_extras(inputs, batch_img_metas)[0]

    def _encode_decode_with_extras(self, inputs: torch.Tensor, batch_img_metas: list[dict]
                                   ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """mmseg's ``encode_decode`` plus the fusion's :meth:`BaseFusion.predict_extras`."""
        out = self._fuse(inputs)
        seg_logits = self.decode_head.predict(self._neck(out.maps), batch_img_metas,
                                              self.test_cfg)
        return seg_logits, self.fusion.predict_extras(out)

    def inference(self, inputs: torch.Tensor, batch_img_metas: list[dict]) -> torch.Tensor:
        return self._inference_with_extras(inputs, batch_img_metas)[0]

    def _inference_with_extras(self, inputs: torch.Tensor, batch_img_metas: list[dict]
                               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """mmseg's ``inference`` (whole image, or sliding windows as mmseg's
        ``slide_inference``) that also returns the fusion's prediction extras, averaged
        over the windows."""
        mode = self.test_cfg.get('mode', 'whole')
        if mode not in ('slide', 'whole'):
            raise ConfigError(f"model.test_cfg.mode={mode!r}: expected 'slide' or 'whole'")
        if mode == 'whole':
            return self._encode_decode_with_extras(inputs, batch_img_metas)
        h_stride, w_stride = self.test_cfg.stride
        h_crop, w_crop = self.test_cfg.crop_size
        batch_size, _, h_img, w_img = inputs.size()
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        preds = inputs.new_zeros((batch_size, self.out_channels, h_img, w_img))
        count_mat = inputs.new_zeros((batch_size, 1, h_img, w_img))
        window_extras: list[dict[str, torch.Tensor]] = []
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y2 = min(h_idx * h_stride + h_crop, h_img)
                x2 = min(w_idx * w_stride + w_crop, w_img)
                y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
                crop_img = inputs[:, :, y1:y2, x1:x2]
                batch_img_metas[0]['img_shape'] = crop_img.shape[2:]   # as mmseg does
                crop_logits, extras = self._encode_decode_with_extras(crop_img,
                                                                      batch_img_metas)
                preds += F.pad(crop_logits, (int(x1), int(preds.shape[3] - x2), int(y1),
                                             int(preds.shape[2] - y2)))
                count_mat[:, :, y1:y2, x1:x2] += 1
                window_extras.append(extras)
        if (count_mat == 0).any():
            raise ValueError('sliding windows left pixels uncovered')
        extras = {name: torch.stack([e[name] for e in window_extras]).mean(dim=0)
                  for name in window_extras[0]}
        return preds / count_mat, extras

    def predict(self, inputs: torch.Tensor, data_samples: list | None = None) -> list:
        """mmseg's prediction, plus the fusion's :meth:`BaseFusion.predict_extras` set on
        each sample (e.g. CLIP-SP's ``pred_multilabel``: K probabilities, averaged over
        sliding windows)."""
        if data_samples is not None:
            batch_img_metas = [sample.metainfo for sample in data_samples]
        else:
            batch_img_metas = [dict(ori_shape=inputs.shape[2:], img_shape=inputs.shape[2:],
                                    pad_shape=inputs.shape[2:], padding_size=[0, 0, 0, 0])
                               ] * inputs.shape[0]
        seg_logits, extras = self._inference_with_extras(inputs, batch_img_metas)
        results = self.postprocess_result(seg_logits, data_samples)
        for name, values in extras.items():
            for sample, value in zip(results, values):
                sample.set_field(value.detach(), name)
        return results
