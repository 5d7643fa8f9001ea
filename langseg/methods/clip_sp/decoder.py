"""CLIP-SP's multi-label decoders (Li et al., "CLIP-SP: Vision-language model with adaptive
prompting for scene parsing", Computational Visual Media 2024, doi:10.1007/s41095-024-0430-4):
the Dual GraphFormer decoder (Sec. 3.2, Fig. 4, Eq. 1-2) and the MLP decoder of the
ablation (Sec. 4.1), each mapping [global; local] image tokens and the K class embeddings
to K multi-label logits.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from ...models.layers import MultiHeadAttention
from ...registry import MODELS
from ...utils.errors import ConfigError


class GraphConv(nn.Module):
    """``H_out = GELU(LayerNorm(Conv1d_k1(H_in)))`` (Eq. 2): the 1x1 convolution runs over
    the node axis, so its weight is a learnable (nodes x nodes) adjacency; the LayerNorm
    (with affine) replaces the weight matrix of Eq. 1."""

    def __init__(self, num_nodes: int, dim: int, adjacency: torch.Tensor | None = None) -> None:
        super().__init__()
        self.adjacency = nn.Conv1d(num_nodes, num_nodes, 1)
        if adjacency is not None:
            with torch.no_grad():
                self.adjacency.weight.copy_(adjacency.reshape(num_nodes, num_nodes, 1))
                self.adjacency.bias.zero_()
        self.norm = nn.LayerNorm(dim)

    def forward(self, nodes: torch.Tensor) -> torch.Tensor:      # B, nodes, C
        return F.gelu(self.norm(self.adjacency(nodes)))


class DualGraphFormerBlock(nn.Module):
    """One block: image nodes compressed from 1+HW to N (and back), graph convolutions on
    both paths with learnable scalar shortcuts w_v, w_s, two-way cross-attention (text
    queries over image nodes, image nodes over the text), Add & LN (ADDS' order)."""

    def __init__(self, dim: int, num_classes: int, num_nodes: int, num_heads: int,
                 adjacency: torch.Tensor | None, attn_dim: int | None = None) -> None:
        super().__init__()
        self.compress = nn.Linear(dim, num_nodes)     # token -> assignment logits over N
        self.image_graph = GraphConv(num_nodes, dim)
        self.text_graph = GraphConv(num_classes, dim, adjacency)
        self.w_v = nn.Parameter(torch.ones(1))
        self.w_s = nn.Parameter(torch.ones(1))
        self.text_attn = MultiHeadAttention(dim, num_heads, inner_dim=attn_dim)
        self.image_attn = MultiHeadAttention(dim, num_heads, inner_dim=attn_dim)
        self.text_norm = nn.LayerNorm(dim)
        self.image_norm = nn.LayerNorm(dim)

    def forward(self, image: torch.Tensor, text: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        assign = torch.softmax(self.compress(image), dim=1)          # B, 1+HW, N
        nodes = assign.transpose(1, 2) @ image                       # B, N, C  (B V)
        nodes = self.image_graph(nodes) + self.w_v * nodes
        text = self.text_graph(text) + self.w_s * text
        text = self.text_norm(text + self.text_attn(text, nodes, nodes))
        nodes = self.image_norm(nodes + self.image_attn(nodes, text, text))
        return image + assign @ nodes, text                          # decompress (B^T)


@MODELS.register_module()
class DualGraphFormerDecoder(BaseModule):
    """Multi-label decoder: ``num_blocks`` Dual GraphFormer blocks, then a linear classifier
    with sigmoid on the text path: logits (B, K).

    Args:
        dim: token width C (CLIP's embedding width).
        num_classes: K.
        num_blocks: blocks (3 in the paper).
        num_nodes: N, the image nodes after compression (not given; 64).
        num_heads: attention heads.
        attn_dim: width inside the two cross-attentions (not given; ``dim // 2`` by
            default, the width that fits the published params of both RN50 and RN101,
            docs/methods/clip_sp.md).
        cooccurrence: ``.npz`` from tools/compute_cooccurrence.py initialising the text
            adjacency.
    """

    def __init__(self, dim: int, num_classes: int, num_blocks: int = 3, num_nodes: int = 64,
                 num_heads: int = 8, attn_dim: int | None = None,
                 cooccurrence: str | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.cooccurrence, self.num_classes = cooccurrence, num_classes
        attn_dim = attn_dim or dim // 2
        self.blocks = nn.ModuleList(
            DualGraphFormerBlock(dim, num_classes, num_nodes, num_heads, None, attn_dim)
            for _ in range(num_blocks))
        self.classifier = nn.Linear(dim, 1)

    def init_weights(self) -> None:
        """Initialise the text-path adjacency of every block from the co-occurrence file
        (read here, with the weights, so that building the model needs no data)."""
        super().init_weights()
        if self.cooccurrence:
            adjacency = load_cooccurrence_adjacency(self.cooccurrence, self.num_classes)
            with torch.no_grad():
                for block in self.blocks:
                    conv = block.text_graph.adjacency
                    conv.weight.copy_(adjacency.reshape_as(conv.weight))
                    conv.bias.zero_()

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            image, text = block(image, text)
        return self.classifier(text).squeeze(-1)


@MODELS.register_module()
class MLPMultiLabelDecoder(BaseModule):
    """The ablation's decoder (Sec. 4.1): three linear layers on the global token and the
    fixed text classifier S: logits = MLP(global) . S^T."""

    def __init__(self, dim: int, num_classes: int, hidden: int | None = None,
                 init_cfg: dict | None = None, **unused) -> None:
        super().__init__(init_cfg=init_cfg)
        hidden = hidden or dim
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                                 nn.GELU(), nn.Linear(hidden, dim))
        self.scale = nn.Parameter(torch.tensor(10.0))

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        query = F.normalize(self.mlp(image[:, 0]), dim=-1)           # global token
        return self.scale * torch.einsum('bc,bkc->bk', query, F.normalize(text, dim=-1))


def load_cooccurrence_adjacency(path: str, num_classes: int) -> torch.Tensor:
    """Row-normalised co-occurrence (tools/compute_cooccurrence.py output) as an
    adjacency initialisation: ``A_ij = M_ij / M_ii`` (P(j | i))."""
    import numpy as np
    try:
        data = np.load(path, allow_pickle=False)
        matrix = torch.as_tensor(data['matrix'], dtype=torch.float32)
    except Exception as exc:
        raise ConfigError(f'cannot read the co-occurrence file {path}: {exc} (make it with '
                          'tools/compute_cooccurrence.py CONFIG --out FILE.npz)') from None
    if matrix.shape != (num_classes, num_classes):
        raise ConfigError(f'co-occurrence matrix {path} is {tuple(matrix.shape)}: expected '
                          f'{num_classes} x {num_classes}')
    return matrix / matrix.diagonal().clamp(min=1)[:, None]
