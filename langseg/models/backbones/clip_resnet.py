"""CLIP's ResNet (RN50, RN101, ...) as a dense backbone.

The tower is open_clip's ``ModifiedResNet`` (3-conv stem with a 2x2 average pool,
anti-aliased bottlenecks whose strided convs are preceded by an average pool). The
backbone returns the four stage maps (strides 4/8/16/32; 256/512/1024/2048 channels for
width 64) as mmseg's tuple; with ``with_embeddings`` it returns a
:class:`~langseg.models.backbones.output.BackboneOutput` of those maps and the (global, dense)
embeddings of CLIP's attention pool run over every position (:class:`~langseg.models.layers.DenseAttentionPool2d`;
DenseCLIP, Rao et al., CVPR 2022, arXiv:2112.01518, Sec. 3.2). Any input size works: the
pool's positional embedding is stored for ``input_resolution`` (CLIP's 7x7 grid resized
into it when the weights load) and resized to the actual grid at every forward, both
bilinear (``align_corners=False``) as the official DenseCLIP code does (``pos_interp``).

BatchNorm: open_clip builds plain ``BatchNorm2d`` layers; ``norm_cfg`` (an mmcv norm
config, e.g. ``dict(type='SyncBN', requires_grad=True)``) rebuilds every one of them with
mmcv's ``build_norm_layer`` (same eps and momentum; the weights load into them unchanged).
The official DenseCLIP run converts the whole backbone to ``SyncBatchNorm``
(``DenseCLIP/segmentation/train_denseclip.py``, ``convert_sync_batchnorm``), so the configs
of DenseCLIP, its baselines, Conv-Former and CLIP-SP set ``SyncBN``. In a one-process run
mmengine's ``Runner.wrap_model`` reverts every ``SyncBatchNorm`` to a ``BatchNorm``
(``revert_sync_batchnorm``), as it does for mmseg's heads.
"""
from __future__ import annotations

from typing import Sequence

import torch
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...registry import MODELS
from ..clip import build_visual_tower, get_clip_config, is_resnet, load_pretrained_tower
from ...utils.errors import ConfigError
from ..layers import DenseAttentionPool2d
from .output import BackboneOutput, Embeddings


def _rebuild_batchnorms(module: nn.Module, norm_cfg: dict) -> None:
    """Replace every ``nn.BatchNorm2d`` below ``module`` by ``build_norm_layer(norm_cfg)``
    of the same width, eps and momentum (fresh statistics: the weights load afterwards)."""
    if not isinstance(norm_cfg, dict) or 'type' not in norm_cfg:
        raise ConfigError(f'CLIPResNet norm_cfg={norm_cfg!r}: expected an mmcv norm config '
                          "dict with a 'type', e.g. dict(type='SyncBN', requires_grad=True)")
    for name, child in list(module.named_children()):
        if type(child) is nn.BatchNorm2d:
            _, layer = build_norm_layer(norm_cfg, child.num_features)
            if not isinstance(layer, nn.modules.batchnorm._BatchNorm):
                raise ConfigError(f'CLIPResNet norm_cfg type {norm_cfg["type"]!r} builds '
                                  f'{type(layer).__name__}: expected a BatchNorm type '
                                  "('BN', 'SyncBN'); CLIP's weights hold BatchNorm statistics")
            layer.eps, layer.momentum = child.eps, child.momentum
            setattr(module, name, layer)
        else:
            _rebuild_batchnorms(child, norm_cfg)


@MODELS.register_module()
class CLIPResNet(BaseModule):
    """CLIP ResNet backbone with dense embeddings.

    Args:
        arch: CLIP ResNet architecture ('RN50', 'RN101', 'tiny-rn' or a dict).
        pretrained: open_clip tag or weights file, loaded by :meth:`init_weights`.
        out_indices: stages whose maps are returned.
        with_embeddings: return a ``BackboneOutput`` whose ``embeddings`` are
            (global (B, D), dense (B, D, H/32, W/32)) from the attention pool (for a
            fusion module); without it the maps come as mmseg's plain tuple and the pool is not
            built (its weights are
            skipped when loading, as the baselines of DenseCLIP's table do).
        norm_eval: keep BatchNorm statistics frozen (eval mode) while training.
        norm_trainable: whether BatchNorm affine parameters receive gradients.
        input_resolution: image size the attention pool's positional embedding is stored
            for (grid ``input_resolution / 32``; CLIP's is 224 -> 7x7, DenseCLIP builds
            512 -> 16x16); pretrained positions are resized into it when loaded, and the
            grid is interpolated to the actual map at every forward either way.
        dense_mode: how the attention pool makes the dense embeddings: ``'attention'``
            (DenseCLIP, every pixel attends) or ``'value'`` (MaskCLIP's value path, exact
            global token; CLIP-SP). See ``DenseAttentionPool2d``.
        pos_interp: how the pool's positional grid is resized, on loading and at run time
            (``'bilinear'``: DenseCLIP's; ``langseg.models.layers.pos_embed``).
        quick_gelu: the tower's activation (QuickGELU or GELU); ``None`` decides from the
            weights, then the architecture (``langseg.models.clip.loading``).
        norm_cfg: mmcv norm config every ``BatchNorm2d`` of the tower is rebuilt with
            (``dict(type='SyncBN', requires_grad=True)`` as the official DenseCLIP run);
            ``None`` keeps open_clip's ``BatchNorm2d``.
    """

    def __init__(self,
                 arch: str | dict = 'RN50',
                 pretrained: str | None = None,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 with_embeddings: bool = True,
                 norm_eval: bool = False,
                 norm_trainable: bool = True,
                 input_resolution: int | None = None,
                 dense_mode: str = 'attention',
                 pos_interp: str | dict = 'bilinear',
                 quick_gelu: bool | None = None,
                 norm_cfg: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        cfg = get_clip_config(arch)
        if not is_resnet(cfg):
            raise ConfigError(f'CLIPResNet needs a ResNet CLIP architecture, got {arch!r} '
                              '(use CLIPViT for ViT architectures)')
        self.arch, self.pretrained = arch, pretrained
        self.out_indices = tuple(out_indices)
        self.with_embeddings = with_embeddings
        self.norm_eval = norm_eval
        self.pos_interp = pos_interp
        self.visual = build_visual_tower(arch, pretrained, quick_gelu,
                                         image_size=input_resolution)
        pool = self.visual.attnpool
        if with_embeddings:
            grid = int(round((pool.positional_embedding.shape[0] - 1)**0.5))
            self.visual.attnpool = DenseAttentionPool2d(
                grid, pool.q_proj.in_features, pool.num_heads, pool.c_proj.out_features,
                dense_mode=dense_mode, pos_interp=pos_interp)
            self.embed_dim = pool.c_proj.out_features
        else:
            self.visual.attnpool = None
            self.embed_dim = None
        if norm_cfg is not None:
            _rebuild_batchnorms(self.visual, norm_cfg)
        width = cfg['vision_cfg'].get('width', 64)
        self.out_channels = [width * 4 * 2**i for i in range(4)]
        if not norm_trainable:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.requires_grad_(False)

    def init_weights(self) -> None:
        super().init_weights()
        if self.pretrained is not None:
            load_pretrained_tower(
                self.visual, self.arch, self.pretrained, 'visual', 'the CLIP ResNet backbone',
                ignore_prefixes=() if self.with_embeddings else ('attnpool.', ),
                resize_pos_embed_keys=('attnpool.positional_embedding', ),
                pos_interp=self.pos_interp)

    def train(self, mode: bool = True) -> 'CLIPResNet':
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def forward(self, x: torch.Tensor) -> BackboneOutput | tuple[torch.Tensor, ...]:
        visual = self.visual
        x = visual.stem(x.to(visual.conv1.weight.dtype))
        outs = []
        for i, layer in enumerate((visual.layer1, visual.layer2, visual.layer3, visual.layer4)):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        if self.with_embeddings:
            return BackboneOutput(tuple(outs), Embeddings(*visual.attnpool(x)))
        return tuple(outs)

