"""SegCLIP's image encoder: a CLIP ViT with a plugged semantic group module (Luo et al.,
"SegCLIP: Patch Aggregation with Learnable Centers for Open-Vocabulary Semantic
Segmentation", ICML 2023, arXiv:2211.14813, Sec. 2.2).

Stage 1 is CLIP's blocks ``0 .. plug_layer-1`` on the patch tokens (the class token is
dropped after ``ln_pre`` and never used). The semantic group module then

1. refines ``L`` learnable centers by ``num_cross_attn`` pre-norm cross-attention blocks
   (Eq. 1; queries = centers, keys/values = ``[centers; patches]``, MLP 4x with the
   tower's activation), followed by a LayerNorm;
2. assigns every patch to one center by Gumbel-softmax over the centers of the logits
   ``centers . keys^T`` (Eq. 2; keys ``LN(W_k LN(x))``, values ``W_v LN(x)``, W grouped
   per head; no 1/sqrt(d) scaling), hard with the straight-through gradient, tau 0.9,
   noise only in training (eval: argmax of the plain softmax);
3. makes region tokens ``MLP(MEAN(M^T V) + centers)`` (Eq. 3; mean over the patches of a
   center, 0 for an empty one; LN -> MLP 4x GELU -> the tower's activation).

Activations: where the official code (github.com/ArrowLuo/SegCLIP) writes QuickGELU (the
cross-attention MLPs, after the region MLP, Eq. 4's mapping, the two new blocks of the
reconstruction branch) langseg uses the CLIP tower's own activation: QuickGELU for
OpenAI's weights, which is the official behaviour, and GELU for towers trained with GELU
(LAION, DFN, ...), where QuickGELU would be a mismatch. The paper writes GELU throughout.

Stage 3 is CLIP's remaining blocks on the ``L`` region tokens; the image token is their
max-pool, prepended, and all go through ``ln_post`` and the projection: ``(B, 1+L, D)``.

Unlike the official code, every attention here is batch-first and per image, so an image's
regions never depend on the other images of the batch (a test checks it).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from mmengine.model import BaseModule
from torch import nn

from ...registry import MODELS
from ...utils.errors import ConfigError
from ...models.clip import build_visual_tower, embed_vit_tokens, get_clip_config, is_resnet, \
    load_pretrained_tower
from ...models.layers import MultiHeadAttention, residual_block_forward


class GroupAssignment(NamedTuple):
    """The semantic group module's answer for B images of N patches and L centers."""
    regions: torch.Tensor       #: (B, L, C) region tokens, Eq. 3 (they enter stage 3)
    hard: torch.Tensor          #: (B, L, N) one-hot over L, straight-through in training
    soft: torch.Tensor          #: (B, L, N) noise-free softmax over L (inference)
    logits: torch.Tensor        #: (B, L, N) center-key logits of Eq. 2


class GroupOutput(NamedTuple):
    """:class:`SemanticGroupViT`'s answer: the group module's fields, the projected
    tokens and the patch grid."""
    regions: torch.Tensor       #: (B, L, C) region tokens entering stage 3
    hard: torch.Tensor          #: (B, L, N) hard assignment (see GroupAssignment)
    soft: torch.Tensor          #: (B, L, N) noise-free soft assignment
    logits: torch.Tensor        #: (B, L, N) assignment logits
    embeddings: torch.Tensor    #: (B, 1+L, D) image token (max-pool), then the regions
    grid: tuple[int, int]       #: (h, w) patch grid of the input


def tower_activation(visual: nn.Module) -> type[nn.Module]:
    """The activation class of a CLIP tower's MLPs: open_clip's ``QuickGELU`` for OpenAI's
    weights, ``nn.GELU`` otherwise."""
    return type(visual.transformer.resblocks[0].mlp.gelu)


def mlp(dim: int, hidden: int, act: type[nn.Module]) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, hidden), act(), nn.Linear(hidden, dim))


def gumbel_assignment(logits: torch.Tensor, tau: float, dim: int = 1,
                      noise: torch.Tensor | None = None, training: bool = True
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Hard Gumbel-softmax over ``dim`` with the straight-through gradient.

    Training: ``y_soft = softmax((logits + g) / tau)``, g ~ Gumbel(0, 1) (or ``noise``),
    returns ``one_hot(argmax y_soft) - y_soft.detach() + y_soft``: one-hot in value, the
    soft assignment's gradient. Eval: one-hot of the argmax of ``softmax(logits)``, no
    noise. Also returns the noise-free soft assignment ``softmax(logits)`` (inference).
    """
    soft = logits.softmax(dim)
    if training:
        if noise is None:
            noise = -torch.empty_like(logits).exponential_().log()
        y_soft = ((logits + noise) / tau).softmax(dim)
    else:
        y_soft = soft
    index = y_soft.argmax(dim, keepdim=True)
    hard = torch.zeros_like(logits).scatter_(dim, index, 1.0)
    if training:
        hard = hard - y_soft.detach() + y_soft
    return hard, soft


class CenterCrossAttentionBlock(nn.Module):
    """``q = q + MHA(LN(q), LN(kv)); q = q + MLP(LN(q))`` (pre-norm, 4x MLP with the
    tower's activation)."""

    def __init__(self, dim: int, num_heads: int, act: type[nn.Module]) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, num_heads)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = mlp(dim, 4 * dim, act)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        kv = self.norm_kv(context)
        query = query + self.attn(self.norm_q(query), kv, kv)
        return query + self.mlp(self.norm_mlp(query))


class SemanticGroupModule(nn.Module):
    """Learnable centers -> contextual centers -> hard patch assignment -> region tokens
    (see the module docstring; Eq. 1-3).

    Args:
        dim: token width; num_heads: heads of the cross-attention and the key/value groups.
        num_centers: L (8); num_cross_attn: cross-attention blocks (2); tau: Gumbel
            temperature (0.9).
        act: the CLIP tower's activation (QuickGELU for OpenAI's weights), used where the
            official code writes QuickGELU: the cross-attention MLPs and after the region
            MLP (whose inner activation is GELU, as there).
    """

    def __init__(self, dim: int, num_heads: int, num_centers: int = 8,
                 num_cross_attn: int = 2, tau: float = 0.9,
                 act: type[nn.Module] = nn.GELU) -> None:
        super().__init__()
        if num_centers < 1:
            raise ConfigError(f'num_centers must be >= 1, got {num_centers}')
        self.tau = float(tau)
        self.centers = nn.Parameter(torch.empty(num_centers, dim))
        nn.init.trunc_normal_(self.centers, std=0.02)
        self.cross_attn = nn.ModuleList(
            CenterCrossAttentionBlock(dim, num_heads, act) for _ in range(num_cross_attn))
        self.norm_centers = nn.LayerNorm(dim)
        self.norm_x = nn.LayerNorm(dim)
        self.key = nn.Conv1d(dim, dim, 1, groups=num_heads, bias=False)
        self.value = nn.Conv1d(dim, dim, 1, groups=num_heads, bias=False)
        self.norm_key = nn.LayerNorm(dim)
        self.norm_region = nn.LayerNorm(dim)
        self.region_mlp = nn.Sequential(mlp(dim, 4 * dim, nn.GELU), act())

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None
                ) -> GroupAssignment:
        """``x`` (B, N, C) patch tokens -> :class:`GroupAssignment`."""
        b = x.shape[0]
        centers = self.centers.to(x.dtype).expand(b, -1, -1)
        for block in self.cross_attn:
            centers = block(centers, torch.cat([centers, x], dim=1))
        centers = self.norm_centers(centers)
        xn = self.norm_x(x).transpose(1, 2)                               # B, C, N
        keys = self.norm_key(self.key(xn).transpose(1, 2))               # B, N, C
        values = self.value(xn).transpose(1, 2)                           # B, N, C
        logits = centers @ keys.transpose(1, 2)                           # B, L, N
        hard, soft = gumbel_assignment(logits, self.tau, dim=1, noise=noise,
                                       training=self.training)
        counts = hard.sum(-1, keepdim=True)                               # B, L, 1
        mean = (hard @ values) / counts.detach().clamp(min=1)             # empty -> 0
        regions = self.region_mlp(self.norm_region(mean + centers))
        return GroupAssignment(regions, hard, soft, logits)


@MODELS.register_module()
class SemanticGroupViT(BaseModule):
    """CLIP ViT + semantic group module (see module docstring).

    Args:
        arch: a CLIP ViT architecture (name or dict, ``langseg.models.clip``).
        pretrained: open_clip tag or weights file, loaded by ``init_weights`` through the
            shared CLIP layer (the group module stays randomly initialised).
        plug_layer: the module comes after this many CLIP blocks (10).
        num_centers, num_cross_attn, tau: of the group module (8, 2, 0.9).
        frozen: parameter names (prefixes under ``visual.``) kept frozen (the official code:
            patch embedding, class embedding, positional embedding, ln_pre).
        quick_gelu: the tower's activation (QuickGELU or GELU); ``None`` decides from the
            weights, then the architecture (``langseg.models.clip.loading``).
    """

    def __init__(self, arch: str | dict = 'ViT-B-16', pretrained: str | None = None,
                 plug_layer: int = 10, num_centers: int = 8, num_cross_attn: int = 2,
                 tau: float = 0.9,
                 frozen: Sequence[str] = ('conv1', 'class_embedding',
                                          'positional_embedding', 'ln_pre'),
                 quick_gelu: bool | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        cfg = get_clip_config(arch)
        if is_resnet(cfg):
            raise ConfigError(f'SegCLIP needs a CLIP ViT, got {arch!r}')
        self.arch, self.pretrained, self.quick_gelu = arch, pretrained, quick_gelu
        self.visual = build_visual_tower(arch, pretrained, quick_gelu)
        blocks = self.visual.transformer.resblocks
        if not 0 < plug_layer < len(blocks):
            raise ConfigError(f'plug_layer must be in 1..{len(blocks) - 1} for {arch!r} '
                              f'({len(blocks)} blocks), got {plug_layer}')
        self.plug_layer = plug_layer
        self.width = self.visual.conv1.out_channels
        self.num_heads = blocks[0].attn.num_heads
        self.embed_dim = self.visual.output_dim
        self.patch_size = self.visual.conv1.kernel_size[0]
        self.act_layer = tower_activation(self.visual)
        self.group = SemanticGroupModule(self.width, self.num_heads, num_centers,
                                         num_cross_attn, tau, self.act_layer)
        for name, param in self.visual.named_parameters():
            if name.startswith(tuple(frozen)):
                param.requires_grad_(False)

    @property
    def num_centers(self) -> int:
        return self.group.centers.shape[0]

    def init_weights(self) -> None:
        super().init_weights()
        if self.pretrained is not None:
            load_pretrained_tower(self.visual, self.arch, self.pretrained, 'visual',
                                  'the SegCLIP image encoder',
                                  resize_pos_embed_keys=('positional_embedding', ))

    def embed_patches(self, images: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Patch tokens after ``ln_pre`` with positions, class token dropped: (B, N, C)."""
        tokens, grid = embed_vit_tokens(self.visual, images)
        return tokens[:, 1:], grid

    def stage1(self, patches: torch.Tensor) -> torch.Tensor:
        for block in self.visual.transformer.resblocks[:self.plug_layer]:
            patches = residual_block_forward(block, patches)
        return patches

    def stage3(self, regions: torch.Tensor) -> torch.Tensor:
        for block in self.visual.transformer.resblocks[self.plug_layer:]:
            regions = residual_block_forward(block, regions)
        return regions

    def project(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = self.visual.ln_post(tokens)
        return tokens @ self.visual.proj if self.visual.proj is not None else tokens

    def group_patches(self, patches: torch.Tensor) -> GroupAssignment:
        """Stage 1 and the group module on (possibly masked) patch tokens (B, N, C), as
        the reconstruction branch of pretraining runs them on the visible patches."""
        return self.group(self.stage1(patches))

    def forward(self, images: torch.Tensor) -> GroupOutput:
        """``images`` (B, 3, H, W) -> :class:`GroupOutput`: stage 1, grouping, stage 3
        on the L region tokens, their max-pool prepended as the image token, projected."""
        patches, grid = self.embed_patches(images)
        group = self.group_patches(patches)
        regions = self.stage3(group.regions)
        tokens = torch.cat([regions.max(dim=1, keepdim=True).values, regions], dim=1)
        return GroupOutput(*group, embeddings=self.project(tokens), grid=grid)
