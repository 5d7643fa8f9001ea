"""Vision foundation models (VFMs) as dense feature extractors, through timm.

A VFM takes RGB images in [0, 255] (it normalises them with its own mean/std: ImageNet's
for DINO, as ProxyCLIP's official code feeds it) and returns one feature map
``(B, C, h, w)``: what ProxyCLIP's proxy attention compares (Lan et al., ECCV 2024,
arXiv:2408.04883, Sec. 3.2):

* ViTs (DINO, DINOv2 with and without registers, MAE, any timm ViT by ``model_name``):
  the last block's tokens after the final norm,
  prefix tokens (CLS, registers) removed, on the patch grid; any input size (the
  positional grid resized by each model's own rule, ``VFM_PRESETS``);
* SAM ViT-B/L (Kirillov et al., "Segment Anything", ICCV 2023, arXiv:2304.02643): the
  image is resized to 1024 (its native size; by timm name: the model's ``img_size``) and
  the neck output (256 x 64 x 64) is returned;
* EVA-02 (timm's ``Eva``, e.g. ``eva02_base_patch14_224``): timm's own
  ``forward_features`` with ``dynamic_img_size=True`` (positions and rotary embeddings
  resized by timm), prefix tokens dropped, on the patch grid.

The family is read from the timm class a ``model_name`` builds (``VisionTransformer``:
DINO, DINOv2 with/without registers, AugReg, MAE, CLIP, SigLIP; ``VisionTransformerSAM``;
``Eva``); any other class is refused when the model is built, in one line listing these.

:class:`ModuleLayerVFM` turns any registered module into a VFM by reading one named
layer's output (the UNet experiment of Fang's report is one config of it).
"""
from __future__ import annotations

import timm
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule

from ...registry import MODELS
from ...utils.errors import ConfigError, did_you_mean
from ...utils.state_dict import load_state_dict_checked, read_state_dict
from ..layers.frozen import AlwaysEvalMixin
from ..layers.pos_embed import grid_interpolation, resize_grid_pos_embed
from .timm_backbone import timm_state_dict

#: Short names of VFMs -> timm model (with its weights tag), and how each resizes its
#: positional grid as the code the weights come from does it: DINO's and DINOv2's
#: ``interpolate_pos_encoding`` (bicubic by scale factor (n + 0.1) / N; the register models
#: of DINOv2 switched to antialiased bicubic by size), MAE's ``interpolate_pos_embed``
#: (bicubic by size). Register tokens (DINOv2-reg) are prefix tokens: dropped with the
#: class token. SAM runs at its native 1024 px (no resize of its positions). Every preset
#: normalises with its tag's mean/std (ImageNet's for all of these).
VFM_PRESETS: dict[str, dict] = {
    'dino-s8': dict(model_name='vit_small_patch8_224.dino', pos_interp='bicubic-offset'),
    'dino-s16': dict(model_name='vit_small_patch16_224.dino', pos_interp='bicubic-offset'),
    'dino-b8': dict(model_name='vit_base_patch8_224.dino', pos_interp='bicubic-offset'),
    'dino-b16': dict(model_name='vit_base_patch16_224.dino', pos_interp='bicubic-offset'),
    'dinov2-s14': dict(model_name='vit_small_patch14_dinov2.lvd142m',
                       pos_interp='bicubic-offset'),
    'dinov2-b14': dict(model_name='vit_base_patch14_dinov2.lvd142m',
                       pos_interp='bicubic-offset'),
    'dinov2-l14': dict(model_name='vit_large_patch14_dinov2.lvd142m',
                       pos_interp='bicubic-offset'),
    'dinov2-s14-reg': dict(model_name='vit_small_patch14_reg4_dinov2.lvd142m',
                           pos_interp='bicubic-antialias'),
    'dinov2-b14-reg': dict(model_name='vit_base_patch14_reg4_dinov2.lvd142m',
                           pos_interp='bicubic-antialias'),
    'dinov2-l14-reg': dict(model_name='vit_large_patch14_reg4_dinov2.lvd142m',
                           pos_interp='bicubic-antialias'),
    'mae-b16': dict(model_name='vit_base_patch16_224.mae', pos_interp='bicubic'),
    'mae-l16': dict(model_name='vit_large_patch16_224.mae', pos_interp='bicubic'),
    'sam-b': dict(model_name='samvit_base_patch16.sa1b', kind='sam', input_size=1024),
    'sam-l': dict(model_name='samvit_large_patch16.sa1b', kind='sam', input_size=1024),
}


#: timm class -> how its features are read (``kind``).
VFM_FAMILIES: dict[str, str] = {'VisionTransformer': 'vit', 'VisionTransformerSAM': 'sam',
                                'Eva': 'eva'}
_FAMILY_TEXT = ('a timm VisionTransformer (DINO, DINOv2 with or without registers, AugReg, '
                'MAE, CLIP, SigLIP), VisionTransformerSAM (SAM) or Eva (EVA-02)')


def _timm_module(model_name: str) -> str | None:
    """The timm module that defines a model name (``'eva'``, ``'vision_transformer'``)."""
    try:
        return timm.models._registry._model_to_module.get(
            timm.models.get_arch_name(model_name))
    except Exception:  # noqa: BLE001  - unknown names are reported by create_model
        return None


def _normaliser(module: torch.nn.Module, mean, std) -> None:
    module.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1) * 255, persistent=False)
    module.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1) * 255, persistent=False)


@MODELS.register_module()
class TimmVFM(AlwaysEvalMixin, BaseModule):
    """A timm ViT / SAM as a VFM (see module docstring).

    The input normalisation is the one of the weights' tag (timm's ``pretrained_cfg`` of
    ``model_name`` *with* its tag: DINO's and SAM's are ImageNet's mean/std, while the
    untagged ``vit_base_patch8_224`` is an AugReg model normalised by 0.5); ``mean``/``std``
    override it. ViT tokens are formed here (patch embedding, prefix tokens, positions
    resized by ``pos_interp``, then timm's blocks and final norm), so the grid is resized
    as the weights' own code does, not by timm's antialiased rule.

    Args:
        name: a preset of :data:`VFM_PRESETS` (``'dino-b8'``, ...), or ``None`` with
            ``model_name``.
        model_name: any timm model name, with its tag (overrides the preset's).
        pretrained: ``True`` (the tag's weights, downloaded), a local weights file, or
            ``None``/``False`` (random weights, for tests).
        kind: ``'vit'``, ``'sam'`` or ``'eva'``; ``None``: read from the timm class (a
            kind that does not fit the class is refused).
        input_size: resize the input to this square size first (SAM: 1024; SAM by timm
            name: its ``img_size``).
        pos_interp: positional-grid resizing (``langseg.models.layers.pos_embed``); the
            preset's, else timm's own (``'bicubic-antialias'``).
        mean, std: input normalisation in [0, 1] units (default: the tag's).
        model_kwargs: extra ``timm.create_model`` arguments (e.g. a tiny depth in tests).
    """

    always_eval = ('model', )  # frozen

    def __init__(self, name: str | None = 'dino-b8', model_name: str | None = None,
                 pretrained: bool | str | None = True, kind: str | None = None,
                 input_size: int | None = None, pos_interp: str | dict | None = None,
                 mean: tuple | None = None, std: tuple | None = None,
                 model_kwargs: dict | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        preset = {}
        if name is not None:
            if name not in VFM_PRESETS:
                hint = did_you_mean(name, VFM_PRESETS, n=3, cutoff=0.4)
                raise ConfigError(f'unknown VFM {name!r}: expected one of '
                                  f'{", ".join(VFM_PRESETS)}, or name=None with a timm '
                                  f'model_name{hint}')
            preset = VFM_PRESETS[name]
        self.model_name = model_name or preset.get('model_name')
        if not self.model_name:
            raise ConfigError('TimmVFM needs a preset name or a timm model_name')
        self.pos_interp = grid_interpolation(
            pos_interp or preset.get('pos_interp', 'bicubic-antialias'))
        self.pretrained = pretrained
        kwargs = dict(model_kwargs or {})
        if kind not in (None, *VFM_FAMILIES.values()):
            raise ConfigError(f"VFM kind {kind!r}: expected one of "
                              f"{', '.join(sorted(set(VFM_FAMILIES.values())))} (or None: "
                              'read from the timm model)')
        if _timm_module(self.model_name) == 'eva':
            kwargs.setdefault('dynamic_img_size', True)   # any input size, timm's rule
        try:  # the name with its tag: pretrained_cfg (mean/std) is the tag's
            self.model = timm.create_model(self.model_name, pretrained=False, num_classes=0,
                                           **kwargs)
        except Exception as exc:
            raise ConfigError(f'cannot build timm model {self.model_name!r} for the VFM: '
                              f'{" ".join(str(exc).split())[:200]}') from None
        family = type(self.model).__name__
        if family not in VFM_FAMILIES:
            raise ConfigError(f'timm model {self.model_name!r} ({family}) is not a supported '
                              f'VFM: expected {_FAMILY_TEXT}; or wrap any module with '
                              "type='ModuleLayerVFM'")
        self.kind = VFM_FAMILIES[family]
        if kind is not None and kind != self.kind:
            raise ConfigError(f"VFM kind {kind!r} does not fit timm model {self.model_name!r} "
                              f"({family}): expected kind={self.kind!r} or None")
        self.input_size = input_size or preset.get('input_size')
        if self.kind == 'sam' and self.input_size is None:
            self.input_size = int(self.model.patch_embed.img_size[0])  # its fixed grid
        cfg = self.model.pretrained_cfg
        _normaliser(self, mean or cfg.get('mean', (0.485, 0.456, 0.406)),
                    std or cfg.get('std', (0.229, 0.224, 0.225)))
        self.model.eval().requires_grad_(False)

    def init_weights(self) -> None:
        super().init_weights()
        if not self.pretrained:
            return
        state = timm_state_dict(self.model_name, self.pretrained)
        own = self.model.state_dict()
        # a classifier's head is not part of the VFM (built with num_classes=0)
        state = {k: v for k, v in state.items() if not k.startswith(('head.', 'fc_norm.'))
                 or k in own}
        load_state_dict_checked(self.model, state, f'the VFM {self.model_name}')
        print_log(f'loaded VFM {self.model_name}: {len(state)} tensors', logger='current')

    def vit_features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images (B, 3, H, W) -> the last block's patch tokens after the final
        norm, prefix tokens (class, registers) dropped, as (B, C, h, w)."""
        m = self.model
        x = m.patch_embed.proj(x)
        b, c, h, w = x.shape
        x = m.patch_embed.norm(x.flatten(2).transpose(1, 2))
        prefix_pos = 0 if m.no_embed_class else m.num_prefix_tokens
        pos = resize_grid_pos_embed(m.pos_embed[0], m.patch_embed.grid_size, (h, w),
                                    num_prefix=prefix_pos, interp=self.pos_interp)
        prefix = [t.expand(b, -1, -1) for t in (m.cls_token, m.reg_token) if t is not None]
        if m.no_embed_class:        # positions on the patches only (timm's DINOv2-reg)
            x = torch.cat(prefix + [x + pos.to(x.dtype)], dim=1)
        else:
            x = torch.cat(prefix + [x], dim=1) + pos.to(x.dtype)
        x = m.norm_pre(m.patch_drop(m.pos_drop(x)))
        x = m.norm(m.blocks(x))
        return x[:, m.num_prefix_tokens:].transpose(1, 2).reshape(b, c, h, w)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """``rgb`` (B, 3, H, W) in [0, 255] -> features (B, C, h, w)."""
        x = (rgb - self.mean) / self.std
        if self.input_size is not None:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode='bilinear',
                              align_corners=False)
        if self.kind == 'sam':
            return self.model.forward_features(x)
        if self.kind == 'eva':
            return self.eva_features(x)
        return self.vit_features(x)

    def eva_features(self, x: torch.Tensor) -> torch.Tensor:
        """EVA-02: timm's ``forward_features`` (final norm included) at any size, prefix
        tokens dropped, as (B, C, h, w)."""
        m = self.model
        tokens = m.forward_features(x)[:, m.num_prefix_tokens:]
        ph, pw = m.patch_embed.patch_size
        h, w = x.shape[-2] // ph, x.shape[-1] // pw
        return tokens.transpose(1, 2).reshape(x.shape[0], -1, h, w)


@MODELS.register_module()
class ModuleLayerVFM(AlwaysEvalMixin, BaseModule):
    """Any registered module as a VFM: the output of its layer ``layer``.

    Args:
        module: config of the module (any registry type, e.g. mmseg's ``UNet``).
        layer: dotted name of the sub-module whose output (B, C, h, w) is the feature map
            (a hook is registered once, here).
        mean, std: normalisation of the module's input, in [0, 1] units (ImageNet).
        checkpoint: optional weights file for the module (loaded with weights_only).
    """

    always_eval = ('module', )  # frozen

    def __init__(self, module: dict, layer: str,
                 mean: tuple = (0.485, 0.456, 0.406), std: tuple = (0.229, 0.224, 0.225),
                 checkpoint: str | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.module = MODELS.build(module)
        layers = dict(self.module.named_modules())
        if layer not in layers:
            hint = did_you_mean(layer, [n for n in layers if n], cutoff=0.3)
            raise ConfigError(f'the VFM module has no layer {layer!r}: expected a dotted '
                              f'sub-module name{hint}')
        self.layer, self.checkpoint = layer, checkpoint
        self._captured: list[torch.Tensor] = []
        layers[layer].register_forward_hook(self._capture)
        _normaliser(self, mean, std)
        # two statements: some modules' train() returns None (mmseg's UNet)
        self.module.eval()
        self.module.requires_grad_(False)

    def _capture(self, _module, _inputs, output) -> None:
        self._captured.append(output[0] if isinstance(output, (list, tuple)) else output)

    def init_weights(self) -> None:
        super().init_weights()
        if self.checkpoint:
            load_state_dict_checked(self.module, read_state_dict(self.checkpoint)[0],
                                    f'the VFM module ({self.checkpoint})')

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        self._captured.clear()
        self.module((rgb - self.mean) / self.std)
        if not self._captured:
            raise ConfigError(f'layer {self.layer!r} did not run in the forward pass: '
                              'expected the name of a module that the forward calls')
        feats = self._captured[-1]
        self._captured.clear()
        if feats.dim() != 4:
            raise ConfigError(f'layer {self.layer!r} gives a {feats.dim()}-D output: expected '
                              'a layer with a (B, C, h, w) feature map')
        return feats
