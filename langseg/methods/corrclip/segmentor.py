"""CorrCLIP: training-free open-vocabulary segmentation (Zhang, Liu and Tang, "CorrCLIP:
Reconstructing Patch Correlations in CLIP for Open-Vocabulary Semantic Segmentation",
ICCV 2025, arXiv:2411.10086).

CLIP's last attention is rebuilt from region masks and a VFM (DINO), Sec. 3:

1. *region masks* from a swappable generator (``mask_generator``, registered types of
   ``langseg.models.backbones.mask_generators``; the published numbers use SAM2's),
   painted into an integer map per image, resized (nearest) to the input and cut into the
   windows with the image (padding: id 10000);
2. *scope reconstruction* (Sec. 3.2): on the VFM grid, regions with similar mean VFM
   features are merged (``merge_regions``), and a patch correlates only with patches of
   its own region; unsegmented patches with any patch more similar than the window's
   mean similarity (``scope_mask``);
3. *value reconstruction* (Sec. 3.2): the correlations are the VFM's, ``softmax(tau S)``
   with ``S`` the cosines of DINO's last-block ``q + k`` (``tau`` 4) within that scope;
4. *two more branches* (Sec. 3.3): the same attention over the value tokens of the mean
   of CLIP's intermediate outputs (blocks ``L-2-n .. L-3``, n = 5 for 12 blocks: the
   *spatial* branch, weight 1), and a *semantic* branch: one class token per region that
   attends only to the class token and its region's patches through every block
   (weight 0.5); ``ln_post`` of each branch, summed, CLIP's projection;
5. *map correction* (Sec. 3.4): after the arg-max, each segmented region takes its most
   frequent label (``correct_labels``).

The windows, batching, merging and post-processing are the shared open-vocabulary path
(``langseg.models.segmentors.open_vocab``): the region map travels with the pixels as a
fourth channel of the image, so windows are cut, padded and batched together. Where the
paper is silent the official code (github.com/zdk258/CorrCLIP, ``CorrCLIPv1/``) decides;
docs/methods/corrclip.md lists each fact, its official file:line and its test.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from torch import nn

from ...models.backbones.mask_generators import MaskGenerator
from ...models.clip import embed_vit_tokens
from ...models.layers import block_value_path, residual_block_forward, resize_value_grid
from ...models.segmentors.clip_dense import CLIPDenseSegmentor
from ...models.segmentors.open_vocab import InferenceOptions, store_prediction
from ...registry import MODELS
from ...utils.errors import ConfigError
from .regions import PAD_ID, correct_labels, merge_regions, scope_mask


def spatial_blocks(depth: int) -> list[int]:
    """Indices of the blocks whose outputs the spatial branch averages: the official rule
    ``L-2-n .. L-3`` with n = 5, 12, 28 for 12, 24, 32 blocks and ``L-4`` otherwise; a
    tower of at most 4 blocks (test towers: the official code fails on them) takes block
    ``max(L-3, 0)``."""
    n = {12: 5, 24: 12, 32: 28}.get(depth, depth - 4)
    picked = list(range(max(depth - 2 - n, 0), depth - 2))
    return picked or [max(depth - 3, 0)]


def region_attention(block: nn.Module, tokens: torch.Tensor, region_tokens: torch.Tensor,
                     allowed: torch.Tensor) -> torch.Tensor:
    """One CLIP block for the semantic branch's region tokens (B, R, C): each attends to
    the block's input ``tokens`` (B, 1 + N, C) where ``allowed`` (B, R, 1 + N) (its region's
    patches and the class token), then the block's MLP, both with the residual."""
    attn: nn.MultiheadAttention = block.attn
    width, heads = attn.embed_dim, attn.num_heads
    wq, wk, wv = attn.in_proj_weight.split(width)
    bq, bk, bv = attn.in_proj_bias.split(width) if attn.in_proj_bias is not None \
        else (None, None, None)
    keys = block.ln_1(tokens)
    query = block.ln_1(region_tokens)

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (heads, width // heads)).transpose(1, 2)

    out = F.scaled_dot_product_attention(split(F.linear(query, wq, bq)),
                                         split(F.linear(keys, wk, bk)),
                                         split(F.linear(keys, wv, bv)),
                                         attn_mask=allowed[:, None])
    out = attn.out_proj(out.transpose(1, 2).flatten(2))
    x = region_tokens + block.ls_1(out)
    return x + block.ls_2(block.mlp(block.ln_2(x)))


@MODELS.register_module()
class CorrCLIPSegmentor(CLIPDenseSegmentor):
    """Training-free CLIP + DINO + region-mask segmentor (see the module docstring).

    Args:
        class_names, clip, templates, logit_scale, prob_thd, slide_crop, slide_stride,
            pad_multiple, window_batch_size, precision, cpu_precision, pos_interp, pamr,
            tile_rows, keep_probs, data_preprocessor: as for
            :class:`~langseg.models.segmentors.clip_dense.CLIPDenseSegmentor`.
        vfm: the VFM config (``TimmVFM`` ViT; the official code's DINO ViT-B/8 is
            ``dict(type='TimmVFM', name='dino-b8')``): its last block's ``q + k`` give
            the correlations.
        mask_generator: the region-mask generator config (``PrecomputedMaskGenerator``,
            ``SuperpixelMaskGenerator``, ``NoMaskGenerator``, or any registered
            :class:`~langseg.models.backbones.mask_generators.MaskGenerator`).
        tau: temperature of the correlations (4).
        merge_eps: distance under which regions merge (0.2).
        spatial_weight, semantic_weight: weights of the two extra branches (1.0, 0.5).
        spatial_layers: the blocks the spatial branch averages (``None``: the official
            rule, :func:`spatial_blocks`).
        map_correction: the final per-region majority vote (on, as the official code).
        official_vfm_input: give the VFM the CLIP-normalised window un-normalised with
            OpenAI's exact statistics, as the official code does (its CLIP normalisation
            uses rounded ones; off: the exact pixels).
    """

    weights_from = 'clip.pretrained and vfm'

    def __init__(self, class_names: str | Sequence[str], clip: dict | None = None,
                 vfm: dict | None = None, mask_generator: dict | None = None,
                 tau: float = 4.0, merge_eps: float = 0.2, spatial_weight: float = 1.0,
                 semantic_weight: float = 0.5, spatial_layers: Sequence[int] | None = None,
                 map_correction: bool = True, official_vfm_input: bool = False,
                 pad_multiple: int = 56, **kwargs) -> None:
        if kwargs.get('short_side'):
            raise ConfigError('CorrCLIPSegmentor takes no short_side: resize in the data '
                              "pipeline (dict(type='Resize', scale=(2048, 336), "
                              'keep_ratio=True)), as the official configs do')
        super().__init__(class_names, clip=clip, pad_multiple=pad_multiple, **kwargs)
        if vfm is None:
            raise ConfigError("CorrCLIP needs a vfm config, e.g. dict(type='TimmVFM', "
                              "name='dino-b8')")
        self.vfm = MODELS.build(vfm)
        if getattr(self.vfm, 'kind', None) != 'vit':
            raise ConfigError(f'CorrCLIP reads the q and k of a ViT VFM\'s last block '
                              f'(TimmVFM of a timm VisionTransformer: DINO, DINOv2, ...); '
                              f'got {type(self.vfm).__name__} '
                              f'{getattr(self.vfm, "kind", "")}'.rstrip())
        if mask_generator is None:
            raise ConfigError("CorrCLIP needs a mask_generator config, e.g. "
                              "dict(type='PrecomputedMaskGenerator', "
                              "folder='data/region_masks/voc')")
        self.mask_generator = MODELS.build(mask_generator)
        if not isinstance(self.mask_generator, MaskGenerator):
            raise ConfigError(f'mask_generator {type(self.mask_generator).__name__} is not '
                              'a MaskGenerator (langseg.models.backbones.mask_generators)')
        self.tau, self.merge_eps = float(tau), float(merge_eps)
        self.spatial_weight, self.semantic_weight = float(spatial_weight), \
            float(semantic_weight)
        depth = len(self.visual.transformer.resblocks)
        self.spatial_layers = list(spatial_layers) if spatial_layers is not None \
            else spatial_blocks(depth)
        if not self.spatial_layers or not all(0 <= i < depth - 1
                                              for i in self.spatial_layers):
            raise ConfigError(f'spatial_layers {self.spatial_layers}: expected indices of '
                              f'blocks 0..{depth - 2} (the last block is rebuilt)')
        self.map_correction = bool(map_correction)
        self.official_vfm_input = bool(official_vfm_input)

    def extra_towers(self) -> tuple[nn.Module | None, ...]:
        return (self.vfm, )

    # ---------------------------------------------------------------- region maps
    def region_map(self, image: torch.Tensor, meta: dict) -> torch.Tensor:
        """The generator's integer map of one image (3, H, W), flipped as the input when
        the generator reads the unflipped file (test-time flip)."""
        with torch.no_grad():
            region = self.mask_generator.instance_map(image, meta).to(image.device)
        if self.mask_generator.reads_file and meta.get('flip'):
            dims = {'horizontal': (-1, ), 'vertical': (-2, ), 'diagonal': (-2, -1)}[
                meta.get('flip_direction') or 'horizontal']
            region = region.flip(dims)
        return region

    def window_pad_value(self) -> torch.Tensor:
        """CLIP's mean colour for the pixels, :data:`PAD_ID` for the region channel."""
        return torch.cat([self.clip_mean.flatten(), self.clip_mean.new_tensor([PAD_ID])])

    def _resized(self, image: torch.Tensor) -> torch.Tensor:
        return image   # no short_side (refused): the pipeline resizes

    # ------------------------------------------------------------------ features
    def _official_vfm_pixels(self, clip_input: torch.Tensor) -> torch.Tensor:
        mean = clip_input.new_tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
        std = clip_input.new_tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
        return (clip_input * std + mean) * 255

    def vfm_correlation_features(self, vfm: nn.Module, rgb: torch.Tensor
                                 ) -> tuple[torch.Tensor, tuple[int, int]]:
        """l2-normalised ``q + k`` of the VFM's last block (B, h*w, C), prefix tokens
        dropped, and its grid (h, w)."""
        captured: list[torch.Tensor] = []
        hook = vfm.model.blocks[-1].attn.qkv.register_forward_hook(
            lambda _m, _i, out: captured.append(out))
        try:
            grid = tuple(vfm(rgb).shape[-2:])
        finally:
            hook.remove()
        qkv = captured[-1]
        width = qkv.shape[-1] // 3
        qk = (qkv[..., :width] + qkv[..., width:2 * width])[:, vfm.model.num_prefix_tokens:]
        return F.normalize(qk.float(), dim=-1), grid

    def dense_features(self, x: torch.Tensor) -> torch.Tensor:
        """Windows (B, 4, H, W): RGB in [0, 255] and the region map -> l2-normalised CLIP
        embeddings (B, E, h, w) on the VFM grid (module docstring, steps 2-4)."""
        rgb = x[:, :3]
        regions = x[:, 3:] if x.shape[1] > 3 else torch.zeros_like(x[:, :1])
        visual, vfm = self._towers(x.device)
        clip_input = self.clip_normalise(rgb)
        vfm_rgb = self._official_vfm_pixels(clip_input) if self.official_vfm_input else rgb
        feats, size = self.vfm_correlation_features(vfm, vfm_rgb.to(
            visual.conv1.weight.dtype))
        b = x.shape[0]
        # scope: merged regions on the VFM grid, correlations within their scope
        fine = F.interpolate(regions.float(), size=size, mode='nearest').long()[:, 0]
        fine = torch.stack([merge_regions(fine[i], feats[i], self.merge_eps)
                            for i in range(b)])
        sim = feats @ feats.transpose(1, 2)
        allowed = torch.stack([scope_mask(fine[i], sim[i]) for i in range(b)])
        attn = torch.softmax((sim * self.tau).masked_fill(~allowed, float('-inf')), dim=-1)
        # CLIP: the blocks, with the semantic branch's region tokens alongside
        tokens, grid = embed_vit_tokens(visual, clip_input.to(visual.conv1.weight.dtype),
                                        self.pos_interp)
        coarse = F.interpolate(fine[:, None].float(), size=grid, mode='nearest')[:, 0].long()
        region_tokens, token_allowed, region_masks = self._region_tokens(tokens, coarse)
        blocks = visual.transformer.resblocks
        spatial = []
        for idx, block in enumerate(blocks[:-1]):
            region_tokens = region_attention(block, tokens, region_tokens, token_allowed)
            tokens = residual_block_forward(block, tokens)
            if idx in self.spatial_layers:
                spatial.append(tokens)
        last = blocks[-1]
        region_tokens = region_attention(last, tokens, region_tokens, token_allowed)
        spatial = torch.stack(spatial).mean(0)
        attn = attn.to(tokens.dtype)
        main, spatial = [self.out_proj(attn @ resize_value_grid(
            block_value_path(last, t)[:, 1:], grid, size)) for t in (tokens, spatial)]
        # the semantic branch: each VFM-grid patch takes its region's token
        owner = F.interpolate(region_masks, size=size, mode='nearest').flatten(2)
        semantic = owner.transpose(1, 2).to(region_tokens.dtype) @ region_tokens
        head = self.visual
        out = head.ln_post(main.to(head.conv1.weight.dtype)) + \
            self.spatial_weight * head.ln_post(spatial.to(head.conv1.weight.dtype)) + \
            self.semantic_weight * head.ln_post(semantic.to(head.conv1.weight.dtype))
        if head.proj is not None:
            out = out @ head.proj
        out = F.normalize(out.float(), dim=-1)
        return out.transpose(1, 2).reshape(b, -1, *size)

    def _region_tokens(self, tokens: torch.Tensor, coarse: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The semantic branch's inputs: one copy of the class token per region of each
        window's CLIP-grid map ``coarse`` (B, h, w) (B, R, C; R the most regions of a
        window, the spare rows attend to the class token only), which tokens each may
        attend to (B, R, 1 + h*w), and the region masks (B, R, h, w) (spare rows: 0)."""
        b, n = tokens.shape[0], coarse[0].numel()
        per_window = [torch.unique(c) for c in coarse]
        r = max(v.numel() for v in per_window)
        allowed = torch.zeros(b, r, 1 + n, dtype=torch.bool, device=tokens.device)
        allowed[:, :, 0] = True
        masks = torch.zeros(b, r, *coarse.shape[1:], device=tokens.device)
        for i, values in enumerate(per_window):
            m = values[:, None, None] == coarse[i][None]
            allowed[i, :values.numel(), 1:] = m.flatten(1)
            masks[i, :values.numel()] = m.float()
        return tokens[:, :1].expand(b, r, -1), allowed, masks

    # ------------------------------------------------------------------ inference
    def predict(self, inputs: torch.Tensor, data_samples: list | None = None,
                options: InferenceOptions | None = None) -> list:
        """Segment a (padded) batch (the shared path of ``OpenVocabSegmentor.predict``)
        with each image's region map as a fourth channel, then the map correction."""
        from mmseg.structures import SegDataSample
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(img_shape=inputs.shape[-2:],
                                                         ori_shape=inputs.shape[-2:]))
                            for _ in range(inputs.shape[0])]
        images, maps = [], []
        for img, sample in zip(inputs, data_samples):
            h, w = sample.metainfo.get('img_shape', img.shape[-2:])[:2]
            image = img[:, :h, :w].float()
            region = self.region_map(image, sample.metainfo)
            maps.append(region)
            resized = F.interpolate(region[None, None].float(), size=(h, w), mode='nearest')
            images.append(torch.cat([image, resized[0]]))
        for logits, image, region, sample in zip(self.image_logits(images), images, maps,
                                                 data_samples):
            size = tuple(sample.metainfo.get('ori_shape', logits.shape[-2:])[:2])
            probs, labels = self.postprocess(logits, size, image[:3], options)
            if self.map_correction:
                if tuple(region.shape) != size:
                    region = F.interpolate(region[None, None].float(), size=size,
                                           mode='nearest')[0, 0]
                labels = correct_labels(labels, region.to(labels.device).long())
            store_prediction(sample, probs, labels)
        return data_samples

    def _forward(self, inputs: torch.Tensor, data_samples: list | None = None
                 ) -> torch.Tensor:
        """One window's graph (what the FLOPs tool traces) with an empty region map (the
        generator's own cost is not in it)."""
        if inputs.shape[1] == 3:
            inputs = torch.cat([inputs, inputs.new_zeros(inputs.shape[0], 1,
                                                         *inputs.shape[-2:])], dim=1)
        return super()._forward(inputs, data_samples)
