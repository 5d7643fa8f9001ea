"""SAM's prompt encoder and mask decoder, and a stateless predictor on a given image
embedding (Kirillov et al., "Segment Anything", ICCV 2023, arXiv:2304.02643, Sec. 3
"Segment Anything Model" and Appendix A "Segment Anything Model and Task Details").

timm has SAM's image encoder only (langseg runs it as ``TimmVFM(name='sam-b')``); this
module is the rest of the promptable model, written from the paper and checked against the
official code (github.com/facebookresearch/segment-anything at dca509f, files below) on
recorded outputs (tests/test_sam_prompt.py):

* prompt encoder (Appendix A "Prompt encoder"; ``modeling/prompt_encoder.py``): a point is
  the random-Fourier positional encoding of its position (pixel centre: +0.5) plus a learned
  foreground / background embedding (``point_embeddings.1`` / ``.0``); label -1 is a padding
  point (``not_a_point_embed``, no positional term), appended when points come without a
  box (``prompt_encoder.py:81-91``); a box is its two corners' encodings plus the learned
  top-left / bottom-right embeddings (``point_embeddings.2`` / ``.3``, ``:93-100``); a mask
  (4x the embedding grid) is downscaled by two 2x2 stride-2 convolutions (``mask_in_chans //
  4``, ``mask_in_chans`` channels, each with LayerNorm2d and GELU) and a 1x1 convolution to
  the embedding width, else the learned ``no_mask_embed`` everywhere (``:50-60``, ``:161-166``).
  The positional encoding (Tancik et al., NeurIPS 2020; ``:171-214``): coordinates scaled to
  [0, 1] by the input frame, mapped to [-1, 1], times a fixed Gaussian matrix (2, C/2),
  times 2 pi; [sin, cos].
* two-way transformer (Appendix A "Mask decoder"; ``modeling/transformer.py``): ``depth``
  blocks of token self-attention, token-to-image cross-attention, an MLP on the tokens
  (ReLU) and image-to-token cross-attention, each followed by a residual LayerNorm; the
  positional encodings are added to queries and keys at every attention but the first
  block's self-attention (``skip_first_layer_pe``); the cross-attentions project to half the
  width (``attention_downsample_rate=2``); a final token-to-image attention and LayerNorm.
* mask decoder (``modeling/mask_decoder.py``): an IoU token and ``num_multimask_outputs + 1``
  mask tokens before the prompt tokens; the image embedding plus the dense prompt embedding
  through the transformer, upscaled 4x (two 2x2 stride-2 transposed convolutions to width /
  4 and / 8, LayerNorm2d and GELU between, GELU after); each mask token through its own
  3-layer hypernetwork MLP, dot product with the upscaled embedding; the IoU head a
  3-layer MLP of the IoU token. ``multimask_output``: masks 1..3, else mask 0 (``:101-107``).
* predictor (``predictor.py:168-243``, ``modeling/sam.py:133-162``,
  ``utils/transforms.py``): prompts in the coordinates of a frame (the original image, or
  ``prompt_size``) scaled by ResizeLongestSide to the encoder's input; low-res logits
  upsampled to the square input size, cropped to the resized image, resized to the original
  size (bilinear); masks are logits > 0.0 (``mask_threshold``).

Parameter names equal the official checkpoint's ``prompt_encoder.*`` and ``mask_decoder.*``
keys, so ``sam_vit_b_01ec64.pth`` (or ``_l_``/``_h_``) loads directly
(:func:`load_sam_prompt_weights`; its ``image_encoder.*`` keys are for timm's encoder).
Programming contracts (shapes) are left to torch; user inputs raise ``ConfigError``.
"""
from __future__ import annotations

import math
import os.path as osp
from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import nn

from ...registry import MODELS
from ...utils.errors import CheckpointError, ConfigError
from ...utils.state_dict import compare_state_dicts, key_report_text, read_state_dict

#: the official checkpoint's key prefixes of the parts built here
SAM_PROMPT_PREFIXES = ('prompt_encoder.', 'mask_decoder.')


# ---------------------------------------------------------------------- geometry
def resize_longest_side(size: Sequence[int], length: int) -> tuple[int, int]:
    """ResizeLongestSide.get_preprocess_shape (``utils/transforms.py:93-102``): the long
    side becomes ``length``, the other scaled by the same factor and rounded half up."""
    h, w = int(size[0]), int(size[1])
    scale = length * 1.0 / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def transform_coords(coords: torch.Tensor, frame: Sequence[int], length: int) -> torch.Tensor:
    """(x, y) coordinates (..., 2) in a ``frame`` (h, w) -> the same points in the frame
    resized to long side ``length`` (``apply_coords_torch``, ``transforms.py:67-81``;
    fp32)."""
    new_h, new_w = resize_longest_side(frame, length)
    out = coords.float().clone()
    out[..., 0] = out[..., 0] * (new_w / frame[1])
    out[..., 1] = out[..., 1] * (new_h / frame[0])
    return out


def transform_boxes(boxes: torch.Tensor, frame: Sequence[int], length: int) -> torch.Tensor:
    """Boxes (B, 4) x1, y1, x2, y2 in ``frame`` -> the resized frame (``apply_boxes_torch``)."""
    return transform_coords(boxes.reshape(-1, 2, 2), frame, length).reshape(-1, 4)


# ------------------------------------------------------------------------ layers
class LayerNorm2d(nn.Module):
    """Layer norm over dim 1 with a per-channel affine (``modeling/common.py:31-43``, eps
    1e-6). As in the official layer, the statistics are taken over dim 1 whatever the
    tensor's rank: over channels for (B, C, H, W); for an unbatched (C, H, W) map, over H."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(1, keepdim=True)
        x = centred / torch.sqrt(centred.pow(2).mean(1, keepdim=True) + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class MLP(nn.Module):
    """``num_layers`` linear layers, ReLU between them (``mask_decoder.py:154-176``; keys
    ``layers.{i}``)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = F.relu(x)
        return x


class MLPBlock(nn.Module):
    """Two linear layers with an activation between (``common.py:13-28``; ``lin1``,
    ``lin2``)."""

    def __init__(self, dim: int, hidden_dim: int, act: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.lin1 = nn.Linear(dim, hidden_dim)
        self.lin2 = nn.Linear(hidden_dim, dim)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin2(self.act(self.lin1(x)))


# ---------------------------------------------------------------- prompt encoder
class RandomFourierEncoding(nn.Module):
    """Positional encoding by random spatial frequencies (``prompt_encoder.py:171-214``):
    a fixed Gaussian matrix (2, ``num_feats``) (the checkpoint's
    ``positional_encoding_gaussian_matrix``); output 2 * ``num_feats`` channels."""

    def __init__(self, num_feats: int, scale: float = 1.0) -> None:
        super().__init__()
        self.register_buffer('positional_encoding_gaussian_matrix',
                             scale * torch.randn(2, num_feats))

    def encode(self, coords: torch.Tensor) -> torch.Tensor:
        """Coordinates (..., 2) in [0, 1] -> [sin, cos] of 2 pi ((2 c - 1) G)."""
        phase = (2 * coords - 1) @ self.positional_encoding_gaussian_matrix
        phase = 2 * math.pi * phase
        return torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1)

    def grid(self, size: Sequence[int]) -> torch.Tensor:
        """The encoding of every cell centre of an (h, w) grid: (C, h, w)."""
        h, w = int(size[0]), int(size[1])
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
        xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
        coords = torch.stack([xs[None, :].expand(h, w), ys[:, None].expand(h, w)], dim=-1)
        return self.encode(coords).permute(2, 0, 1)

    def points(self, coords: torch.Tensor, image_size: Sequence[int]) -> torch.Tensor:
        """(x, y) pixel coordinates (B, N, 2) in an image of ``image_size`` (h, w) ->
        (B, N, C)."""
        scaled = torch.stack([coords[..., 0] / image_size[1], coords[..., 1] / image_size[0]],
                             dim=-1)
        return self.encode(scaled.float())


class PromptEncoder(nn.Module):
    """Sparse (points, boxes) and dense (mask) prompt embeddings (see the module docstring).

    Args:
        embed_dim: the embedding width (256).
        image_embedding_size: the image embedding's grid (64, 64).
        input_image_size: the encoder's square input (1024, 1024).
        mask_in_chans: hidden channels of the mask downscaling (16).
    """

    def __init__(self, embed_dim: int, image_embedding_size: Sequence[int],
                 input_image_size: Sequence[int], mask_in_chans: int) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.image_embedding_size = tuple(int(s) for s in image_embedding_size)
        self.input_image_size = tuple(int(s) for s in input_image_size)
        self.pe_layer = RandomFourierEncoding(embed_dim // 2)
        # 0: background point, 1: foreground point, 2: box top-left, 3: box bottom-right
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_input_size = (4 * self.image_embedding_size[0],
                                4 * self.image_embedding_size[1])
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4), nn.GELU(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans), nn.GELU(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1))
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def dense_pe(self) -> torch.Tensor:
        """The positional encoding of the image embedding's grid (1, C, h, w)."""
        return self.pe_layer.grid(self.image_embedding_size)[None]

    def embed_points(self, coords: torch.Tensor, labels: torch.Tensor,
                     pad: bool) -> torch.Tensor:
        """Points (B, N, 2) in the input frame, labels (B, N) (1 foreground, 0 background,
        -1 padding) -> (B, N (+1 with ``pad``), C)."""
        coords = coords + 0.5
        if pad:
            coords = torch.cat([coords, coords.new_zeros(coords.shape[0], 1, 2)], dim=1)
            labels = torch.cat([labels, -labels.new_ones(labels.shape[0], 1)], dim=1)
        out = self.pe_layer.points(coords, self.input_image_size)
        lab = labels[..., None]
        out = torch.where(lab == 0, out + self.point_embeddings[0].weight, out)
        out = torch.where(lab == 1, out + self.point_embeddings[1].weight, out)
        return torch.where(lab == -1, self.not_a_point_embed.weight.expand_as(out), out)

    def embed_boxes(self, boxes: torch.Tensor) -> torch.Tensor:
        """Boxes (B, 4) in the input frame -> two corner tokens (B, 2, C)."""
        corners = self.pe_layer.points((boxes + 0.5).reshape(-1, 2, 2), self.input_image_size)
        learned = torch.cat([self.point_embeddings[2].weight, self.point_embeddings[3].weight])
        return corners + learned

    def forward(self, points: tuple[torch.Tensor, torch.Tensor] | None,
                boxes: torch.Tensor | None, masks: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> sparse embeddings (B, N, C) and dense embeddings (B, C, h, w); B is the
        points', else the boxes', else the masks' batch (``prompt_encoder.py:107-168``)."""
        if points is not None:
            batch = points[0].shape[0]
        elif boxes is not None:
            batch = boxes.shape[0]
        else:
            batch = masks.shape[0] if masks is not None else 1
        weight = self.no_mask_embed.weight
        sparse = [weight.new_empty(batch, 0, self.embed_dim)]
        if points is not None:
            sparse.append(self.embed_points(points[0], points[1], pad=boxes is None))
        if boxes is not None:
            sparse.append(self.embed_boxes(boxes))
        if masks is not None:
            dense = self.mask_downscaling(masks)
        else:
            dense = weight.reshape(1, -1, 1, 1).expand(batch, -1, *self.image_embedding_size)
        return torch.cat(sparse, dim=1), dense


# ------------------------------------------------------------- two-way transformer
class Attention(nn.Module):
    """Multi-head attention with the projections to ``dim // downsample_rate``
    (``transformer.py:185-240``: scores divided by sqrt(head width))."""

    def __init__(self, dim: int, num_heads: int, downsample_rate: int = 1) -> None:
        super().__init__()
        self.internal_dim = dim // downsample_rate
        self.num_heads = num_heads
        if self.internal_dim % num_heads:
            raise ConfigError(f'SAM decoder: {num_heads} heads do not divide the attention '
                              f'width {self.internal_dim}: expected a divisor')
        self.q_proj = nn.Linear(dim, self.internal_dim)
        self.k_proj = nn.Linear(dim, self.internal_dim)
        self.v_proj = nn.Linear(dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q, k, v = self._heads(self.q_proj(q)), self._heads(self.k_proj(k)), \
            self._heads(self.v_proj(v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        out = torch.softmax(scores, dim=-1) @ v
        b, _, n, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, self.internal_dim))


class TwoWayAttentionBlock(nn.Module):
    """Token self-attention, token->image attention, token MLP, image->token attention,
    each with a residual LayerNorm (``transformer.py:109-182``)."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, downsample_rate: int = 2,
                 skip_first_layer_pe: bool = False) -> None:
        super().__init__()
        self.self_attn = Attention(dim, num_heads)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn_token_to_image = Attention(dim, num_heads, downsample_rate)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLPBlock(dim, mlp_dim, nn.ReLU)
        self.norm3 = nn.LayerNorm(dim)
        self.norm4 = nn.LayerNorm(dim)
        self.cross_attn_image_to_token = Attention(dim, num_heads, downsample_rate)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, query_pe: torch.Tensor,
                key_pe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.skip_first_layer_pe:   # the first block: no positions, no residual
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.norm1(queries)
        q, k = queries + query_pe, keys + key_pe
        queries = self.norm2(queries + self.cross_attn_token_to_image(q, k, keys))
        queries = self.norm3(queries + self.mlp(queries))
        q, k = queries + query_pe, keys + key_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(k, q, queries))
        return queries, keys


class TwoWayTransformer(nn.Module):
    """``depth`` two-way blocks and a final token->image attention
    (``transformer.py:16-106``)."""

    def __init__(self, depth: int, embedding_dim: int, num_heads: int, mlp_dim: int,
                 attention_downsample_rate: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(embedding_dim, num_heads, mlp_dim, attention_downsample_rate,
                                 skip_first_layer_pe=(i == 0)) for i in range(depth))
        self.final_attn_token_to_image = Attention(embedding_dim, num_heads,
                                                   attention_downsample_rate)
        self.norm_final_attn = nn.LayerNorm(embedding_dim)

    def forward(self, image_embedding: torch.Tensor, image_pe: torch.Tensor,
                point_embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image (B, C, h, w), its positions (B, C, h, w), tokens (B, N, C) -> the tokens
        (B, N, C) and the image tokens (B, h*w, C)."""
        keys = image_embedding.flatten(2).transpose(1, 2)
        key_pe = image_pe.flatten(2).transpose(1, 2)
        queries = point_embedding
        for layer in self.layers:
            queries, keys = layer(queries, keys, point_embedding, key_pe)
        q, k = queries + point_embedding, keys + key_pe
        queries = self.norm_final_attn(queries + self.final_attn_token_to_image(q, k, keys))
        return queries, keys


# ------------------------------------------------------------------ mask decoder
class MaskDecoder(nn.Module):
    """Masks and their IoU predictions from an image embedding and prompt embeddings (see
    the module docstring; ``mask_decoder.py:16-149``)."""

    def __init__(self, transformer_dim: int, transformer: nn.Module,
                 num_multimask_outputs: int = 3, iou_head_depth: int = 3,
                 iou_head_hidden_dim: int = 256) -> None:
        super().__init__()
        c = transformer_dim
        self.transformer = transformer
        self.num_multimask_outputs = num_multimask_outputs
        self.num_mask_tokens = num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, c)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, c)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(c, c // 4, kernel_size=2, stride=2), LayerNorm2d(c // 4),
            nn.GELU(), nn.ConvTranspose2d(c // 4, c // 8, kernel_size=2, stride=2), nn.GELU())
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(c, c, c // 8, 3) for _ in range(self.num_mask_tokens))
        self.iou_prediction_head = MLP(c, iou_head_hidden_dim, self.num_mask_tokens,
                                       iou_head_depth)

    def predict_masks(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor,
                      sparse: torch.Tensor, dense: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """All ``num_mask_tokens`` masks (B, M, 4h, 4w) and IoU predictions (B, M)."""
        batch = sparse.shape[0]
        out_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight])
        tokens = torch.cat([out_tokens[None].expand(batch, -1, -1), sparse], dim=1)
        src = image_embeddings.expand(batch, -1, -1, -1) if image_embeddings.shape[0] == 1 \
            else torch.repeat_interleave(image_embeddings, batch, dim=0)
        src = src + dense
        pos = image_pe.expand(batch, -1, -1, -1)
        b, c, h, w = src.shape
        hs, keys = self.transformer(src, pos, tokens)
        iou_out, mask_out = hs[:, 0], hs[:, 1:1 + self.num_mask_tokens]
        up = self.output_upscaling(keys.transpose(1, 2).reshape(b, c, h, w))
        hyper = torch.stack([mlp(mask_out[:, i])
                             for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1)
        b, c, h, w = up.shape
        masks = (hyper @ up.reshape(b, c, h * w)).reshape(b, -1, h, w)
        return masks, self.iou_prediction_head(iou_out)

    def forward(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor,
                sparse_prompt_embeddings: torch.Tensor, dense_prompt_embeddings: torch.Tensor,
                multimask_output: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """-> low-res mask logits (B, 3 or 1, 4h, 4w) and IoU predictions (B, 3 or 1):
        the multimask tokens 1..3, or the single-mask token 0."""
        masks, iou = self.predict_masks(image_embeddings, image_pe, sparse_prompt_embeddings,
                                        dense_prompt_embeddings)
        keep = slice(1, None) if multimask_output else slice(0, 1)
        return masks[:, keep], iou[:, keep]


# ---------------------------------------------------------------------- predictor
class SamPrediction(NamedTuple):
    """What :meth:`SamPromptDecoder.predict` returns (``SamPredictor.predict_torch``).

    masks: bool (B, M, H, W) at the original size (logits > 0.0);
    iou_predictions: (B, M); low_res_logits: (B, M, 4h, 4w) in the padded input frame;
    logits: the upscaled logits (B, M, H, W) (``return_logits=True``)."""
    masks: torch.Tensor
    iou_predictions: torch.Tensor
    low_res_logits: torch.Tensor
    logits: torch.Tensor


def load_sam_prompt_weights(module: nn.Module, path: str) -> int:
    """Load the ``prompt_encoder.*`` / ``mask_decoder.*`` tensors of an official SAM
    checkpoint (``torch.load(weights_only=True)``; ``image_encoder.*`` ignored) into
    ``module``; the number of tensors loaded. A missing file, a file without these keys or
    keys that do not fit raise ``ConfigError`` (one line)."""
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise ConfigError(f'SAM decoder weights {path} do not exist: expected a local copy of '
                          'the official SAM checkpoint (e.g. sam_vit_b_01ec64.pth, '
                          'github.com/facebookresearch/segment-anything) or pretrained=None')
    try:
        state, _ = read_state_dict(path)
    except CheckpointError as exc:
        raise ConfigError(f'SAM decoder weights: {exc}') from None
    own = {k: v for k, v in state.items() if k.startswith(SAM_PROMPT_PREFIXES)}
    if not own:
        raise ConfigError(f'{path} has no prompt_encoder.* / mask_decoder.* keys: expected the '
                          'official SAM checkpoint (sam_vit_b_01ec64.pth and siblings)')
    report = compare_state_dicts(module, own)
    if any(report.values()):
        raise ConfigError(f'the weights in {path} do not fit the SAM decoder: '
                          f'{key_report_text(report)}')
    module.load_state_dict(own, strict=True)
    return len(own)


@MODELS.register_module()
class SamPromptDecoder(BaseModule):
    """SAM's prompt encoder and mask decoder on a given image embedding (see the module
    docstring); the defaults are every official SAM's (``build_sam.py:62-98``).

    Args:
        embed_dim: the image embedding's and the prompts' width (256).
        image_size: the image encoder's square input (1024); the embedding grid is
            ``image_size // patch_size``, the mask input 4x that grid.
        patch_size: the image encoder's patch size (16).
        mask_in_chans: hidden channels of the mask downscaling (16).
        depth, num_heads, mlp_dim: the two-way transformer (2, 8, 2048).
        num_multimask_outputs: masks of the multimask output (3).
        iou_head_depth, iou_head_hidden_dim: the IoU head (3, 256).
        pretrained: a local official SAM checkpoint (``sam_vit_b_01ec64.pth``), loaded by
            ``init_weights``; ``None``: random weights (tests).
    """

    def __init__(self, embed_dim: int = 256, image_size: int = 1024, patch_size: int = 16,
                 mask_in_chans: int = 16, depth: int = 2, num_heads: int = 8,
                 mlp_dim: int = 2048, num_multimask_outputs: int = 3, iou_head_depth: int = 3,
                 iou_head_hidden_dim: int = 256, pretrained: str | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if int(image_size) % int(patch_size):
            raise ConfigError(f'SAM decoder: image_size {image_size} is not a multiple of '
                              f'patch_size {patch_size}')
        if int(embed_dim) % 8 or int(mask_in_chans) % 4:
            raise ConfigError(f'SAM decoder: embed_dim {embed_dim} must be a multiple of 8 and '
                              f'mask_in_chans {mask_in_chans} of 4 (the upscaling widths)')
        grid = int(image_size) // int(patch_size)
        self.image_size, self.pretrained = int(image_size), pretrained
        self.mask_threshold = 0.0
        self.prompt_encoder = PromptEncoder(embed_dim, (grid, grid), (image_size, image_size),
                                            mask_in_chans)
        self.mask_decoder = MaskDecoder(
            embed_dim, TwoWayTransformer(depth, embed_dim, num_heads, mlp_dim),
            num_multimask_outputs, iou_head_depth, iou_head_hidden_dim)
        self.requires_grad_(False)

    @property
    def embed_dim(self) -> int:
        return self.prompt_encoder.embed_dim

    @property
    def mask_input_size(self) -> tuple[int, int]:
        """The mask prompt's size (4x the embedding grid: 256 x 256 for SAM)."""
        return self.prompt_encoder.mask_input_size

    def init_weights(self) -> None:
        super().init_weights()
        if self.pretrained:
            count = load_sam_prompt_weights(self, self.pretrained)
            print_log(f'loaded the SAM decoder from {self.pretrained}: {count} tensors',
                      logger='current')

    def postprocess_masks(self, masks: torch.Tensor, input_size: Sequence[int],
                          original_size: Sequence[int]) -> torch.Tensor:
        """Low-res logits -> the square input size, cropped to ``input_size``, resized to
        ``original_size`` (bilinear; ``sam.py:133-162``)."""
        masks = F.interpolate(masks, (self.image_size, self.image_size), mode='bilinear',
                              align_corners=False)
        masks = masks[..., :int(input_size[0]), :int(input_size[1])]
        return F.interpolate(masks, tuple(int(s) for s in original_size), mode='bilinear',
                             align_corners=False)

    @torch.no_grad()
    def predict(self, image_embedding: torch.Tensor, original_size: Sequence[int],
                point_coords: torch.Tensor | None = None,
                point_labels: torch.Tensor | None = None, boxes: torch.Tensor | None = None,
                mask_input: torch.Tensor | None = None, multimask_output: bool = True,
                prompt_size: Sequence[int] | None = None) -> SamPrediction:
        """Masks for a batch of prompts on one image (``SamPredictor.predict_torch`` after
        ``set_image``; nothing is stored on the module).

        Args:
            image_embedding: the image encoder's output (1, C, h, w) for the image resized
                to long side ``image_size`` and zero-padded to a square.
            original_size: (H, W) of the image that was resized for the encoder; the masks
                come at this size.
            point_coords, point_labels: (B, N, 2) pixel (x, y) and (B, N) labels (1, 0, -1).
            boxes: (B, 4) x1, y1, x2, y2 pixels.
            mask_input: low-res logits in the padded input frame, (B, 1, 4h, 4w) (or one
                map for all prompts), as ``SamPredictor`` takes them (not transformed).
            multimask_output: three masks per prompt, else one.
            prompt_size: the (h, w) frame the point and box coordinates are given in
                (default ``original_size``); ResizeLongestSide maps it to the input.
        """
        if point_coords is not None and point_labels is None:
            raise ConfigError('SAM predict: point_coords need point_labels (1 foreground, '
                              '0 background, -1 padding)')
        frame = tuple(original_size) if prompt_size is None else tuple(prompt_size)
        input_size = resize_longest_side(original_size, self.image_size)
        weight = self.mask_decoder.iou_token.weight
        points = None
        if point_coords is not None:
            points = (transform_coords(point_coords, frame, self.image_size).to(weight),
                      point_labels.to(weight.device))
        if boxes is not None:
            boxes = transform_boxes(boxes, frame, self.image_size).to(weight)
        if mask_input is not None:
            mask_input = mask_input.to(weight)
        sparse, dense = self.prompt_encoder(points, boxes, mask_input)
        low, iou = self.mask_decoder(image_embedding.to(weight), self.prompt_encoder.dense_pe(),
                                     sparse, dense, multimask_output)
        logits = self.postprocess_masks(low, input_size, original_size)
        return SamPrediction(logits > self.mask_threshold, iou, low, logits)


__all__ = ['Attention', 'LayerNorm2d', 'MaskDecoder', 'PromptEncoder', 'RandomFourierEncoding',
           'SamPrediction', 'SamPromptDecoder', 'TwoWayTransformer', 'load_sam_prompt_weights',
           'resize_longest_side', 'transform_boxes', 'transform_coords']
