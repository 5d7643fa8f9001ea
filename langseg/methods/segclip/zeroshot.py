"""SegCLIP (Luo et al., "SegCLIP: Patch Aggregation with Learnable Centers for
Open-Vocabulary Semantic Segmentation", ICML 2023, arXiv:2211.14813): pretraining on
image-text pairs and zero-shot segmentation, as one mmseg segmentor run by the mmengine
runner. Where the paper is silent the official code (github.com/ArrowLuo/SegCLIP) decides;
docs/methods/segclip.md lists each such choice and the test that pins it.

``loss`` (pretraining, Sec. 2.5, Eq. 7): ``L = L_con + L_rec + L_sup``, each switchable:

* contrastive (Eq. 8-10): l2-normalised image token and text EOT feature, logit scale
  ``exp(s)`` (learnable, from CLIP, clamped to 100), symmetric cross-entropy over the
  *global* batch: features are gathered from every process with their gradient
  (``torch.distributed.nn.functional.all_gather``);
* masked reconstruction (Sec. 2.3, Eq. 4, MAE): a second forward on the visible patches
  (random per image), counted as the official code does: ``int(197 * 0.25) = 49`` tokens
  kept of the class token and 196 patches, the class token always, so 48 patches; the patches are restored from the regions through the
  mapping matrix, ``act(Linear_L(M^T) H_p)`` (act: the tower's, QuickGELU for OpenAI's
  CLIP as in the official code; the paper writes GELU); two new transformer blocks, a
  mean-pooled pseudo class token, MAE's decoder (mask tokens, fixed 2-D sin-cos positions
  with the column first, blocks with LayerNorm eps 1e-6, linear to pixels); MSE against
  the CLIP-normalised pixels of the masked patches only;
* superpixel KL (Sec. 2.4, Eq. 5-6): with A the (straight-through) hard assignment per
  patch and M = S A / rowsum(S) its average over the patch's super-patch,
  ``0.5 [KL(softmax M || softmax A) + KL(softmax A || softmax M)]`` summed over patches
  and centers, divided by B N L (the official normalisation).

``predict`` (zero-shot, Sec. 2.5 "Inference"): the image comes resized to short side 224
(the configs' pipeline, as the official evaluation; ``short_side`` resizes inside the
model instead) and is split into windows (224 / stride 224); per window the noise-free soft
assignment is upsampled to the window and its argmax gives each pixel one region;
``G = s cos(region, class)`` with ``s`` the learned clamped logit scale; the image token
keeps the top-k (5) classes, ``G`` masked to them and re-softmaxed, times ``softmax(G)``;
pixel scores are the scores of its region. With a background class (index 0, not
prompted), each window also gets a background channel, 1 where a pixel's best score is
strictly below that window's ``min(bg_thresh, max G)`` (:func:`background_indicator`);
windows are averaged, resized to the original image, and the label is the argmax. Windows
are encoded ``window_batch`` at a time. Class embeddings are computed once per class list
and weights (the cache is dropped after every training step).
"""
from __future__ import annotations

import math
from functools import partial
from typing import Sequence

import torch
import torch.nn.functional as F
from open_clip.transformer import LayerNorm, ResidualAttentionBlock
from torch import nn

from ...registry import MODELS
from ...utils.errors import ConfigError
from ..clip import CLIPClassTextEncoder, load_clip_state_dict, resolve_class_names
from .open_vocab import OpenVocabSegmentor, check_mmseg_build_args

LOSSES = ('contrastive', 'reconstruction', 'superpixel')


def sincos_pos_embed_2d(dim: int, grid: tuple[int, int]) -> torch.Tensor:
    """MAE's fixed 2-D sin-cos positions ``(h*w, dim)`` (He et al., CVPR 2022,
    arXiv:2111.06377, ``get_2d_sincos_pos_embed``): the first half of the channels encodes
    the *column* of a patch, the second half its row (MAE builds its grid with
    ``np.meshgrid(grid_w, grid_h)``, so its "emb_h" is the column's), each
    ``[sin(p w_i), cos(p w_i)]`` with ``w_i = 10000^(-i/(dim/4))``; patches row-major."""
    if dim % 4:
        raise ConfigError(f'sin-cos positions need a width divisible by 4, got {dim}')
    h, w = grid
    omega = 1.0 / 10000**(torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))
    rows, cols = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                                torch.arange(w, dtype=torch.float64), indexing='ij')

    def encode(pos: torch.Tensor) -> torch.Tensor:
        angles = pos.flatten()[:, None] * omega[None]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([encode(cols), encode(rows)], dim=1).float()


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


def background_indicator(fg: torch.Tensor, region_scores: torch.Tensor,
                         bg_thresh: float | None) -> torch.Tensor:
    """The background channel of a batch of windows, as the official SegCLIP evaluation
    computes it: ``1`` where a pixel's best foreground score is *strictly* below
    ``min(bg_thresh, max G)``, else ``0``; ``max G`` is the window's largest region-class
    score (over every region, also those that own no pixel). ``fg`` (B, T, h, w) pixel
    scores, ``region_scores`` G (B, L, T); ``bg_thresh=None``: ``max G`` alone.
    Windows are then averaged with this channel in place and the label is the argmax, so a
    pixel whose score equals the threshold stays foreground. Returns (B, 1, h, w)."""
    best = region_scores.flatten(1).max(dim=1).values                          # B
    thresh = best if bg_thresh is None else best.clamp(max=float(bg_thresh))
    below = fg.max(dim=1, keepdim=True).values < thresh[:, None, None, None]
    return below.to(fg.dtype)


@MODELS.register_module()
class SegCLIP(OpenVocabSegmentor):
    """SegCLIP pretraining (``mode='loss'``) and zero-shot segmentation (``'predict'``).

    Args:
        backbone: ``SemanticGroupViT`` config (arch, pretrained, plug_layer, centers...).
        text: ``dict(arch=..., pretrained=..., quick_gelu=...)`` for the trainable CLIP text
            tower (token and positional embeddings frozen); defaults to the backbone's.
        losses: the losses used in pretraining, a subset of ('contrastive',
            'reconstruction', 'superpixel').
        loss_contrastive, loss_reconstruction, loss_superpixel: the loss configs
            (``ContrastiveLoss``, ``MaskedPatchMSELoss``, ``SuperpixelKLLoss`` of
            ``langseg.models.losses``, weight 1 each).
        mask_ratio: masked patches of the reconstruction branch (0.75).
        decoder: MAE decoder settings (decoder_dim 384, decoder_depth 3, decoder_heads 8,
            encoder_depth 2).
        max_logit_scale: the clamp of exp(s) (100).
        class_names: zero-shot classes (a list, a dataset key or a vocabulary file).
        background: whether class 0 is a background that is not prompted.
        bg_thresh: the background threshold (VOC 0.80, Context 0.25, COCO-Object 0.65).
        top_k: classes kept by the image-level filter (5).
        templates: prompt templates ('a photo of a {}.').
        similarity_scale: the factor of the region-class cosines, G = scale * cos;
            ``None`` (default): the model's learned ``exp(s)`` clamped to
            ``max_logit_scale``, as the official evaluation does; a number fixes it.
        slide_crop, slide_stride: zero-shot windows (224, 224).
        short_side: resize each image (bilinear) to this short side before the windows,
            scores resized back (None: as given; the zero-shot configs resize in the data
            pipeline instead, as the official evaluation does).
        window_batch_size: windows encoded together in one forward (16).
        pamr, tile_rows, keep_probs: the shared post-processing
            (``langseg.models.segmentors.open_vocab``): optional PAMR, banded resize,
            whether the class probabilities are kept.
    """

    def __init__(self, backbone: dict, text: dict | None = None,
                 losses: Sequence[str] = LOSSES, loss_contrastive: dict | None = None,
                 loss_reconstruction: dict | None = None,
                 loss_superpixel: dict | None = None,
                 mask_ratio: float = 0.75, decoder: dict | None = None,
                 max_logit_scale: float = 100.0,
                 class_names: str | Sequence[str] = (), background: bool = True,
                 bg_thresh: float | None = 0.8, top_k: int = 5,
                 templates: str | Sequence[str] = 'a photo of a {}.',
                 similarity_scale: float | None = None, slide_crop: int = 224,
                 slide_stride: int = 224, short_side: int | None = None,
                 window_batch_size: int = 16,
                 pamr: dict | None = None, tile_rows: int = 512,
                 keep_probs: bool = True, data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None, train_cfg: dict | None = None,
                 pretrained: str | None = None) -> None:
        check_mmseg_build_args(type(self).__name__, train_cfg, pretrained,
                               'backbone.pretrained (and text.pretrained)')
        super().__init__(slide_crop=slide_crop, slide_stride=slide_stride, pad_multiple=0,
                         window_batch_size=window_batch_size, short_side=short_side,
                         logit_scale=None, prob_thd=0.0,
                         pamr=pamr, tile_rows=tile_rows, keep_probs=keep_probs,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        unknown = set(losses) - set(LOSSES)
        if unknown:
            raise ConfigError(f'unknown SegCLIP losses {sorted(unknown)}: expected a subset '
                              f'of {LOSSES}')
        if not 0 < mask_ratio < 1:
            raise ConfigError(f'mask_ratio must be in (0, 1), got {mask_ratio}')
        self.backbone = MODELS.build(dict(dict(type='SemanticGroupViT'), **backbone))
        text = dict(dict(arch=self.backbone.arch, pretrained=self.backbone.pretrained,
                         quick_gelu=self.backbone.quick_gelu), **(text or {}))
        self.text_arch, self.text_pretrained = text['arch'], text.get('pretrained')
        self.background, self.bg_thresh = bool(background), bg_thresh
        self._class_names = resolve_class_names(class_names) if class_names else []
        self.text_encoder = CLIPClassTextEncoder(
            arch=self.text_arch, pretrained=self.text_pretrained,
            quick_gelu=text.get('quick_gelu'), class_names=self._prompted(self._class_names), templates=templates,
            synonyms='mean', trainable=True,
            frozen_params=('token_embedding', 'positional_embedding'))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.max_log_scale = math.log(max_logit_scale)
        self.losses = tuple(losses)
        self.loss_contrastive = MODELS.build(dict(type='ContrastiveLoss',
                                                  **(loss_contrastive or {})))
        self.loss_reconstruction = MODELS.build(dict(type='MaskedPatchMSELoss',
                                                     **(loss_reconstruction or {})))
        self.loss_superpixel = MODELS.build(dict(type='SuperpixelKLLoss',
                                                 **(loss_superpixel or {})))
        self.mask_ratio = float(mask_ratio)
        image_size = self.backbone.visual.image_size
        image_size = image_size if isinstance(image_size, (tuple, list)) else (image_size, ) * 2
        self.pretrain_grid = tuple(s // self.backbone.patch_size for s in image_size)
        self.reconstruction = MaskedReconstructionHead(
            self.backbone.width, self.backbone.num_heads, self.backbone.num_centers,
            self.backbone.patch_size, self.pretrain_grid, act=self.backbone.act_layer,
            **(decoder or {})) \
            if 'reconstruction' in self.losses else None
        self.top_k = int(top_k)
        self.similarity_scale = similarity_scale

    # ------------------------------------------------------------------ weights
    def init_weights(self) -> None:
        super().init_weights()          # the towers load their CLIP weights themselves
        if self.text_pretrained is not None:
            state, _ = load_clip_state_dict(self.text_arch, self.text_pretrained)
            if 'logit_scale' in state:
                with torch.no_grad():
                    self.logit_scale.copy_(state['logit_scale'].float().reshape(()))

    def lr_group(self, name: str) -> str:
        """'low' (4e-6 in the official recipe) or 'high' (4e-3) for a parameter name:
        CLIP's stage-1 blocks, the whole text tower and the logit scale are 'low'; the
        blocks after the plug, the group module, ln_post/proj and the new heads are
        'high'."""
        if name.startswith(('text_encoder.', 'logit_scale')):
            return 'low'
        prefix = 'backbone.visual.transformer.resblocks.'
        if name.startswith(prefix):
            return 'low' if int(name[len(prefix):].split('.')[0]) < \
                self.backbone.plug_layer else 'high'
        return 'high'

    # --------------------------------------------------------------------- text
    def _prompted(self, names: Sequence[str]) -> list[str]:
        return list(names[1:]) if self.background else list(names)

    @property
    def class_names(self) -> list[str]:
        return self._class_names

    def set_class_names(self, class_names: str | Sequence[str]) -> None:
        self._class_names = resolve_class_names(class_names)
        self.text_encoder.set_class_names(self._prompted(self._class_names))

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_encoder.encode_tokens(tokens), dim=-1)

    def class_embeddings(self) -> torch.Tensor:
        """(T, D) embeddings of the prompted classes, computed once per class list and
        weights (the shared text path, ``langseg.models.clip.class_prompt_embeddings``)."""
        if not self.text_encoder.class_names:
            raise ConfigError('SegCLIP zero-shot needs class_names (a list, a dataset key '
                              'or a vocabulary file)')
        return self.text_encoder()

    def encode_vocabulary(self) -> None:
        self.class_embeddings()

    # ------------------------------------------------------------------ training
    def _stack_field(self, data_samples, name: str) -> torch.Tensor:
        try:
            return torch.stack([getattr(s, name) for s in data_samples])
        except AttributeError:
            raise ConfigError(f'SegCLIP pretraining needs data samples with {name!r}: use '
                              'the image-text pipeline (PackImageTextInputs)') from None

    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        with torch.no_grad():
            self.logit_scale.clamp_(0, self.max_log_scale)
        losses = {}
        out = self.backbone(inputs)
        if 'contrastive' in self.losses:
            tokens = self._stack_field(data_samples, 'text_tokens')
            image = F.normalize(out['embeddings'][:, 0], dim=-1)
            losses['loss_contrastive'] = self.loss_contrastive(
                image, self.encode_text(tokens), self.logit_scale.exp())
        if 'superpixel' in self.losses:
            labels = self._stack_field(data_samples, 'superpixel_patches')
            losses['loss_superpixel'] = self.loss_superpixel(out['hard'].transpose(1, 2),
                                                             labels)
        if 'reconstruction' in self.losses:
            losses['loss_reconstruction'] = self.reconstruction_loss(inputs)
        return losses

    def reconstruction_loss(self, inputs: torch.Tensor,
                            generator: torch.Generator | None = None) -> torch.Tensor:
        patches, grid = self.backbone.embed_patches(inputs)
        if grid != self.pretrain_grid:
            raise ConfigError(f'the reconstruction branch is built for a {self.pretrain_grid} '
                              f'patch grid, the batch has {grid}: crop to the tower size')
        b, n, c = patches.shape
        keep = random_keep_indices(b, n, self.mask_ratio, patches.device, generator)
        visible = patches.gather(1, keep[..., None].expand(-1, -1, c))
        group = self.backbone.group(self.backbone.stage1(visible))
        pred = self.reconstruction(group['regions'], group['hard'], keep)
        target = patchify(inputs, self.backbone.patch_size)
        masked = torch.ones(b, n, device=inputs.device)
        masked.scatter_(1, keep, 0.0)
        return self.loss_reconstruction(pred, target, masked)

    # --------------------------------------------------------------- zero-shot
    def similarity_logit_scale(self) -> float:
        """The factor of the region-class cosines: ``similarity_scale``, or the model's
        learned ``exp(s)`` clamped to ``max_logit_scale`` (the official code's)."""
        if self.similarity_scale is not None:
            return float(self.similarity_scale)
        return float(self.logit_scale.detach().exp().clamp(max=math.exp(self.max_log_scale)))

    def window_logits(self, windows: torch.Tensor) -> torch.Tensor:
        """Scores (B, [1 +] T, h, w) of a batch of windows (Sec. 2.5): the foreground class
        scores of each pixel's region and, with a background class, channel 0 the
        background indicator of :func:`background_indicator` (per window)."""
        text = F.normalize(self.class_embeddings(), dim=-1)
        out = self.backbone(windows)
        b, _, h, w = windows.shape
        gh, gw = out['grid']
        soft = out['soft'].reshape(b, -1, gh, gw)
        soft = F.interpolate(soft, size=(h, w), mode='bilinear', align_corners=False)
        region_of_pixel = F.one_hot(soft.argmax(1), soft.shape[1]).to(text.dtype)  # B,h,w,L
        emb = F.normalize(out['embeddings'].to(text.dtype), dim=-1)
        scores = self.similarity_logit_scale() * emb[:, 1:] @ text.t()            # B, L, T
        probs = scores.softmax(-1)
        k = min(self.top_k, text.shape[0])
        top = (emb[:, 0] @ text.t()).topk(k, dim=-1).indices                     # B, k
        keep = torch.zeros_like(probs[:, 0]).scatter(1, top, 1.0) > 0              # B, T
        region_scores = scores.masked_fill(~keep[:, None], -float('inf')).softmax(-1) * probs
        fg = torch.einsum('bhwl,blt->bthw', region_of_pixel, region_scores)
        if not self.background:
            return fg
        return torch.cat([background_indicator(fg, region_scores, self.bg_thresh), fg], 1)

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs)
