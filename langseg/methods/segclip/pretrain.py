"""SegCLIP's image-text pretraining model (Luo et al., "SegCLIP: Patch Aggregation with
Learnable Centers for Open-Vocabulary Semantic Segmentation", ICML 2023, arXiv:2211.14813,
Sec. 2.3-2.5, Eq. 7), run by the mmengine runner. Where the paper is silent the official
code (github.com/ArrowLuo/SegCLIP) decides; docs/methods/segclip.md lists each choice.

:class:`SegCLIPPretrainer` is the zero-shot segmentor
(:class:`~langseg.methods.segclip.zeroshot.SegCLIP`, as ``segmentor``: the semantic-group
ViT, the CLIP text tower and the logit scale) plus what only pretraining needs: the
losses and the MAE reconstruction branch (``reconstruction``). Its validation is the
zero-shot segmentor's prediction, and its checkpoints load into the zero-shot configs by
the documented rule (``segmentor.*`` -> ``*``, ``reconstruction.*`` dropped,
:func:`~langseg.methods.segclip.zeroshot.zero_shot_state_dict`).

``loss`` (Eq. 7): ``L = L_con + L_rec + L_sup``, each switchable:

* contrastive (Eq. 8-10): l2-normalised image token and text EOT feature, logit scale
  ``exp(s)`` (learnable, from CLIP, clamped to 100), symmetric cross-entropy over the
  *global* batch: features are gathered from every process with their gradient
  (``torch.distributed.nn.functional.all_gather``);
* masked reconstruction (Sec. 2.3, Eq. 4, MAE): a second forward on the visible patches
  (random per image), counted as the official code does: ``int(197 * 0.25) = 49`` tokens
  kept of the class token and 196 patches, the class token always, so 48 patches; the
  patches are restored from the regions through the mapping matrix,
  ``act(Linear_L(M^T) H_p)`` (act: the tower's, QuickGELU for OpenAI's CLIP as in the
  official code; the paper writes GELU); two new transformer blocks, a mean-pooled pseudo
  class token, MAE's decoder (mask tokens, fixed 2-D sin-cos positions with the column
  first, blocks with LayerNorm eps 1e-6, linear to pixels); MSE against the
  CLIP-normalised pixels of the masked patches only;
* superpixel KL (Sec. 2.4, Eq. 5-6): with A the (straight-through) hard assignment per
  patch and M = S A / rowsum(S) its average over the patch's super-patch,
  ``0.5 [KL(softmax M || softmax A) + KL(softmax A || softmax M)]`` summed over patches
  and centers, divided by B N L (the official normalisation).
"""
from __future__ import annotations

from functools import partial
from typing import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from open_clip.transformer import LayerNorm, ResidualAttentionBlock
from torch import nn

from ...models.layers import sincos_pos_embed_2d
from ...models.segmentors.open_vocab import check_mmseg_build_args
from ...registry import MODELS
from ...utils.errors import ConfigError
from .zeroshot import SegCLIP

LOSSES = ('contrastive', 'reconstruction', 'superpixel')


def random_keep_indices(batch: int, num_patches: int, mask_ratio: float,
                        device: torch.device, generator: torch.Generator | None = None
                        ) -> torch.Tensor:
    """Indices (B, K) of the visible patches, random per image, kept as the official code
    keeps them (MAE's ``random_masking`` with the class token kept): ``len_keep =
    int(L * (1 - mask_ratio))`` counted over the class token and the N patches (L = N + 1),
    the class token always one of them, so K = len_keep - 1 patches (48 of 196 at 0.75).
    The noise is drawn over the L tokens with the class token's set to -1, as there, so
    the same generator state picks the same patches."""
    length = num_patches + 1
    len_keep = int(length * (1 - mask_ratio))
    if len_keep < 2:
        raise ConfigError(f'mask_ratio {mask_ratio} leaves no visible patch of {num_patches}: '
                          f'expected int({length} * (1 - mask_ratio)) >= 2')
    noise = torch.rand(batch, length, generator=generator)
    noise[:, 0] = -1.0                                         # the class token is kept
    return (noise.argsort(dim=1)[:, 1:len_keep] - 1).to(device)


class MaskedReconstructionHead(nn.Module):
    """Sec. 2.3: patches from regions (Eq. 4), two transformer blocks, MAE decoder.

    ``act`` is the activation of the CLIP tower (QuickGELU for OpenAI's weights), used by
    Eq. 4's mapping and the two new blocks as the official code does (the paper writes
    GELU); the MAE decoder keeps MAE's GELU and LayerNorm eps 1e-6."""

    def __init__(self, width: int, num_heads: int, num_centers: int, patch_size: int,
                 grid: tuple[int, int], decoder_dim: int = 384, decoder_depth: int = 3,
                 decoder_heads: int = 8, encoder_depth: int = 2,
                 act: type[nn.Module] = nn.GELU) -> None:
        super().__init__()
        self.patch_size, self.grid = patch_size, tuple(grid)
        self.assign_linear = nn.Linear(num_centers, num_centers)
        self.assign_act = act()
        self.encoder = nn.ModuleList(ResidualAttentionBlock(width, num_heads, act_layer=act)
                                     for _ in range(encoder_depth))
        self.embed = nn.Linear(width, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.register_buffer('pos_embed', sincos_pos_embed_2d(decoder_dim, self.grid),
                             persistent=False)
        mae_norm = partial(LayerNorm, eps=1e-6)
        self.decoder = nn.ModuleList(ResidualAttentionBlock(decoder_dim, decoder_heads,
                                                            norm_layer=mae_norm)
                                     for _ in range(decoder_depth))
        self.norm = mae_norm(decoder_dim)
        self.predict = nn.Linear(decoder_dim, patch_size * patch_size * 3)

    def forward(self, regions: torch.Tensor, assignment: torch.Tensor,
                keep: torch.Tensor) -> torch.Tensor:
        """``regions`` (B, L, C) of the visible patches' grouping, ``assignment`` (B, L, Nv),
        ``keep`` (B, Nv) their indices -> predicted pixels (B, N, p*p*3) at every patch."""
        b, nv = keep.shape
        n = self.grid[0] * self.grid[1]
        x = self.assign_act(self.assign_linear(assignment.transpose(1, 2)) @ regions)  # Eq. 4
        for block in self.encoder:
            x = block(x)
        x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)               # pseudo CLS
        x = self.embed(x)
        full = self.mask_token.to(x.dtype).expand(b, n, -1).clone()
        full = full.scatter(1, keep[..., None].expand(-1, -1, x.shape[-1]), x[:, 1:])
        x = torch.cat([x[:, :1], full + self.pos_embed.to(x.dtype)], dim=1)
        for block in self.decoder:
            x = block(x)
        return self.predict(self.norm(x))[:, 1:]


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, 3, H, W) -> (B, N, p*p*3), patches in row-major order, pixels (p, p, 3)."""
    b, c, h, w = images.shape
    p = patch_size
    x = images.reshape(b, c, h // p, p, w // p, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)


@MODELS.register_module()
class SegCLIPPretrainer(BaseModel):
    """SegCLIP pretraining on image-text pairs (``mode='loss'``); ``'predict'`` and
    ``'tensor'`` are the zero-shot segmentor's (the validation during pretraining).

    Args:
        backbone: ``SemanticGroupViT`` config (arch, pretrained, plug_layer, centers...).
        text: the CLIP text tower (``dict(arch=..., pretrained=..., quick_gelu=...)``,
            token and positional embeddings frozen); defaults to the backbone's.
        losses: the losses used, a subset of ('contrastive', 'reconstruction',
            'superpixel').
        loss_contrastive, loss_reconstruction, loss_superpixel: the loss configs
            (``ContrastiveLoss``, ``MaskedPatchMSELoss``, ``SuperpixelKLLoss`` of
            :mod:`langseg.methods.segclip.losses`, weight 1 each).
        mask_ratio: masked patches of the reconstruction branch (0.75).
        decoder: MAE decoder settings (decoder_dim 384, decoder_depth 3, decoder_heads 8,
            encoder_depth 2).
        data_preprocessor: as for mmseg's segmentors (shared with the segmentor).
        **zero_shot: every other argument is the zero-shot segmentor's
            (:class:`~langseg.methods.segclip.zeroshot.SegCLIP`: ``max_logit_scale``,
            ``class_names``, ``background``, ``bg_thresh``, ``top_k``, ``templates``,
            ``similarity_scale``, windows and post-processing), used for validation.
    """

    def __init__(self, backbone: dict, text: dict | None = None,
                 losses: Sequence[str] = LOSSES, loss_contrastive: dict | None = None,
                 loss_reconstruction: dict | None = None,
                 loss_superpixel: dict | None = None,
                 mask_ratio: float = 0.75, decoder: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None,
                 train_cfg: dict | None = None, pretrained: str | None = None,
                 **zero_shot) -> None:
        check_mmseg_build_args(type(self).__name__, train_cfg, pretrained,
                               'backbone.pretrained (and text.pretrained)')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        unknown = set(losses) - set(LOSSES)
        if unknown:
            raise ConfigError(f'unknown SegCLIP losses {sorted(unknown)}: expected a subset '
                              f'of {LOSSES}')
        if not 0 < mask_ratio < 1:
            raise ConfigError(f'mask_ratio must be in (0, 1), got {mask_ratio}')
        self.segmentor = SegCLIP(backbone=backbone, text=text,
                                 data_preprocessor=data_preprocessor, **zero_shot)
        self.losses = tuple(losses)
        self.loss_contrastive = MODELS.build(dict(type='ContrastiveLoss',
                                                  **(loss_contrastive or {})))
        self.loss_reconstruction = MODELS.build(dict(type='MaskedPatchMSELoss',
                                                     **(loss_reconstruction or {})))
        self.loss_superpixel = MODELS.build(dict(type='SuperpixelKLLoss',
                                                 **(loss_superpixel or {})))
        self.mask_ratio = float(mask_ratio)
        encoder = self.encoder
        image_size = encoder.visual.image_size
        image_size = image_size if isinstance(image_size, (tuple, list)) else (image_size, ) * 2
        self.pretrain_grid = tuple(s // encoder.patch_size for s in image_size)
        self.reconstruction = MaskedReconstructionHead(
            encoder.width, encoder.num_heads, encoder.num_centers, encoder.patch_size,
            self.pretrain_grid, act=encoder.act_layer, **(decoder or {})) \
            if 'reconstruction' in self.losses else None

    @property
    def encoder(self) -> nn.Module:
        """The semantic-group ViT, shared with the zero-shot segmentor."""
        return self.segmentor.backbone

    @property
    def class_names(self) -> list[str]:
        """The zero-shot classes of the validation (the segmentor's)."""
        return self.segmentor.class_names

    @property
    def dataset_meta(self) -> dict:
        """The zero-shot segmentor's (its vocabulary's classes and palette), which
        ``DatasetMetaHook`` writes into the checkpoints."""
        return self.segmentor.dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, meta: dict | None) -> None:
        self.segmentor.dataset_meta = meta

    def lr_group(self, name: str) -> str:
        """'low' (4e-6 in the official recipe) or 'high' (4e-3) for a parameter name:
        CLIP's stage-1 blocks, the whole text tower and the logit scale are 'low'; the
        blocks after the plug, the group module, ln_post/proj and the new heads are
        'high'."""
        if name.startswith(('segmentor.text_encoder.', 'segmentor.logit_scale')):
            return 'low'
        prefix = 'segmentor.backbone.visual.transformer.resblocks.'
        if name.startswith(prefix):
            return 'low' if int(name[len(prefix):].split('.')[0]) < \
                self.encoder.plug_layer else 'high'
        return 'high'

    # ------------------------------------------------------------------ forward
    def forward(self, inputs: torch.Tensor, data_samples: list | None = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode in ('predict', 'tensor'):
            return self.segmentor(inputs, data_samples, mode=mode)
        raise ValueError(f"invalid mode {mode!r}: expected 'loss', 'predict' or 'tensor'")

    def _stack_field(self, data_samples, name: str) -> torch.Tensor:
        try:
            return torch.stack([getattr(s, name) for s in data_samples])
        except AttributeError:
            raise ConfigError(f'SegCLIP pretraining needs data samples with {name!r}: use '
                              'the image-text pipeline (PackImageTextInputs)') from None

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """l2-normalised text EOT features (N, D) of CLIP tokens, with gradient."""
        return F.normalize(self.segmentor.text_encoder.encode_tokens(tokens), dim=-1)

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        logit_scale = self.segmentor.logit_scale
        with torch.no_grad():
            logit_scale.clamp_(0, self.segmentor.max_log_scale)
        losses = {}
        out = self.encoder(inputs)
        if 'contrastive' in self.losses:
            tokens = self._stack_field(data_samples, 'text_tokens')
            image = F.normalize(out.embeddings[:, 0], dim=-1)
            losses['loss_contrastive'] = self.loss_contrastive(
                image, self.encode_text(tokens), logit_scale.exp())
        if 'superpixel' in self.losses:
            labels = self._stack_field(data_samples, 'superpixel_patches')
            losses['loss_superpixel'] = self.loss_superpixel(out.hard.transpose(1, 2),
                                                             labels)
        if 'reconstruction' in self.losses:
            losses['loss_reconstruction'] = self.reconstruction_loss(inputs)
        return losses

    def reconstruction_loss(self, inputs: torch.Tensor,
                            generator: torch.Generator | None = None) -> torch.Tensor:
        patches, grid = self.encoder.embed_patches(inputs)
        if grid != self.pretrain_grid:
            raise ConfigError(f'the reconstruction branch is built for a {self.pretrain_grid} '
                              f'patch grid, the batch has {grid}: crop to the tower size')
        b, n, c = patches.shape
        keep = random_keep_indices(b, n, self.mask_ratio, patches.device, generator)
        visible = patches.gather(1, keep[..., None].expand(-1, -1, c))
        group = self.encoder.group_patches(visible)
        pred = self.reconstruction(group.regions, group.hard, keep)
        target = patchify(inputs, self.encoder.patch_size)
        masked = torch.ones(b, n, device=inputs.device)
        masked.scatter_(1, keep, 0.0)
        return self.loss_reconstruction(pred, target, masked)
