"""CLIP-SP between the backbone and Semantic FPN (Li et al., "CLIP-SP: Vision-language model
with adaptive prompting for scene parsing", Computational Visual Media 2024,
doi:10.1007/s41095-024-0430-4): the Dual GraphFormer multi-label decoder (Sec. 3.2, Fig. 4,
Eq. 1-2) and the MLP decoder of the ablation (Sec. 4.1), the top-k scene labels with batch
drop (``scene_labels.py``, Sec. 3.5) and the scene refinement of x4 (Sec. 3.3, Eq. 3-4);
the losses of Sec. 3.4 are in ``losses.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import nn

from ...models.backbones.output import BackboneOutput
from ...models.layers import MultiHeadAttention
from ...models.segmentors.fusion_contract import BaseFusion, FusionOutput, TrainState
from ...registry import MODELS
from ...utils.errors import ConfigError
from .scene_labels import select_scene_labels


class GraphConv(nn.Module):
    """``H_out = GELU(LayerNorm(Conv1d_k1(H_in)))`` (Eq. 2): the 1x1 convolution runs over
    the node axis, so its weight is a learnable (nodes x nodes) adjacency; the LayerNorm
    (with affine) replaces the weight matrix of Eq. 1. A co-occurrence initialisation of
    the adjacency is written by :meth:`DualGraphFormerDecoder.init_weights`."""

    def __init__(self, num_nodes: int, dim: int) -> None:
        super().__init__()
        self.adjacency = nn.Conv1d(num_nodes, num_nodes, 1)
        self.norm = nn.LayerNorm(dim)

    def forward(self, nodes: torch.Tensor) -> torch.Tensor:      # B, nodes, C
        return F.gelu(self.norm(self.adjacency(nodes)))


class DualGraphFormerBlock(nn.Module):
    """One block: image nodes compressed from 1+HW to N (and back), graph convolutions on
    both paths with learnable scalar shortcuts w_v, w_s, two-way cross-attention (text
    queries over image nodes, image nodes over the text), Add & LN (ADDS' order)."""

    def __init__(self, dim: int, num_classes: int, num_nodes: int, num_heads: int,
                 attn_dim: int | None = None) -> None:
        super().__init__()
        self.compress = nn.Linear(dim, num_nodes)     # token -> assignment logits over N
        self.image_graph = GraphConv(num_nodes, dim)
        self.text_graph = GraphConv(num_classes, dim)
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
            DualGraphFormerBlock(dim, num_classes, num_nodes, num_heads, attn_dim)
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
    fixed text classifier S: logits = MLP(global) . S^T. ``num_classes`` is accepted (the
    fusion fills it in for every decoder) and not used."""

    def __init__(self, dim: int, num_classes: int, hidden: int | None = None,
                 init_cfg: dict | None = None, **unknown) -> None:
        if unknown:
            raise ConfigError(f'MLPMultiLabelDecoder takes no {sorted(unknown)}: expected dim, '
                              "hidden (a decoder swapped in for another needs _delete_=True)")
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


class SceneRefinement(nn.Module):
    """Scene refinement (Sec. 3.3, Eq. 3-4): T_g = Pool(MLP(T)) gates x4's channels
    (sigmoid, SENet style); non-local cross-attention with queries from x4' and keys /
    values from T; [attention output, x4'] -> 1x1 conv -> the new x4.

    The "MLP layer" of Eq. 3 is one linear layer C+1 -> C4 by default (``mlp_hidden``
    adds a hidden GELU layer of that width)."""

    def __init__(self, in_channels: int, token_dim: int, k: int, attn_dim: int,
                 norm_cfg: dict, mlp_hidden: int | None = None) -> None:
        super().__init__()
        if mlp_hidden:
            self.mlp = nn.Sequential(nn.Linear(token_dim, mlp_hidden), nn.GELU(),
                                     nn.Linear(mlp_hidden, in_channels))
        else:
            self.mlp = nn.Linear(token_dim, in_channels)
        self.pool = nn.Linear(k, 1)                                   # learned pooling over k
        self.query = nn.Conv2d(in_channels, attn_dim, 1)
        self.key = nn.Linear(token_dim, attn_dim)
        self.value = nn.Linear(token_dim, attn_dim)
        self.fuse = ConvModule(attn_dim + in_channels, in_channels, 1, norm_cfg=norm_cfg,
                               act_cfg=dict(type='ReLU'))
        self.attn_dim = attn_dim

    def forward(self, x4: torch.Tensor, tokens: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = x4.shape
        gate = self.pool(self.mlp(tokens).transpose(1, 2)).squeeze(-1)  # B, C4
        x4 = x4 * torch.sigmoid(gate)[:, :, None, None]
        q = self.query(x4).flatten(2).transpose(1, 2)                    # B, HW, d
        attn = torch.softmax(q @ self.key(tokens).transpose(1, 2) / self.attn_dim**0.5,
                             dim=-1)                                     # B, HW, k
        out = (attn @ self.value(tokens)).transpose(1, 2).reshape(b, -1, h, w)
        return self.fuse(torch.cat([out, x4], dim=1)), attn


@dataclass
class CLIPSPOutput(FusionOutput):
    """:class:`CLIPSPFusion`'s output (``score`` is ``None``: CLIP-SP has no score map).

    Attributes:
        logits: multi-label logits (B, K) of the decoder (ASL's input).
        probs: their sigmoid, the multi-label prediction S_l (B, K).
        indices: the k scene labels selected per image (B, k).
        attn: the refinement's attention of every pixel over them (B, h*w, k).
        grid: (h, w) of the refined map, the grid of ``attn``.
        present: the classes in each image's ground truth (B, K) bool; training only.
        batch_drop_ratio: the batch-drop ratio used (0 outside training).
        dropped: the images whose labels came from the ground truth (B,) bool.
    """

    logits: torch.Tensor | None = None
    probs: torch.Tensor | None = None
    indices: torch.Tensor | None = None
    attn: torch.Tensor | None = None
    grid: tuple[int, int] = (0, 0)
    present: torch.Tensor | None = None
    batch_drop_ratio: float = 0.0
    dropped: torch.Tensor | None = None


@MODELS.register_module()
class CLIPSPFusion(BaseFusion):
    """CLIP-SP between the backbone and Semantic FPN: multi-label decoder on
    [global; local] tokens and all class embeddings -> top-k scene tokens [S_k, p_k] ->
    scene refinement of x4. Losses: ASL on the multi-label logits (weight 10) and the
    auxiliary attention cross-entropy (weight 0.4).

    Args:
        in_channels, text_dim, num_classes: given by the segmentor.
        k: scene labels kept (30 for ADE20K).
        decoder: multi-label decoder config (``DualGraphFormerDecoder`` or
            ``MLPMultiLabelDecoder``); ``dim``/``num_classes`` are filled in.
        attn_dim: width of the non-local attention (not given; 256).
        mlp_hidden: hidden width of the refinement MLP (None: one linear layer).
        loss_ml: ASL config (weight 10); loss_aux: the auxiliary attention loss
            (``SceneAttentionLoss``, weight 0.4).
        score_level: the map refined (x4 = 3).

    The batch-drop ratio comes from the segmentor's train state
    (:class:`~langseg.models.segmentors.fusion_contract.TrainState`, written by
    ``BatchDropHook``) and is logged (:meth:`log_vars`) as ``fusion.batch_drop_ratio``,
    with the fraction of images dropped as ``fusion.batch_dropped``.
    """

    uses_backbone_embeddings = True
    train_state_keys = ('batch_drop_ratio', )

    def __init__(self, in_channels: list[int], text_dim: int, num_classes: int, k: int = 30,
                 decoder: dict | None = None, attn_dim: int = 256,
                 mlp_hidden: int | None = None,
                 loss_ml: dict | None = None, loss_aux: dict | None = None,
                 score_level: int = 3, norm_cfg: dict | None = None,
                 ignore_index: int = 255, init_cfg: dict | None = None) -> None:
        super().__init__(in_channels, text_dim, num_classes, init_cfg=init_cfg)
        if int(k) < 1:
            raise ConfigError(f'CLIPSPFusion k={k}: expected at least 1 scene label')
        self.k, self.score_level = min(k, num_classes), score_level
        self.ignore_index = ignore_index
        self.decoder = MODELS.build(dict(dict(type='DualGraphFormerDecoder'),
                                         **(decoder or {}), dim=text_dim,
                                         num_classes=num_classes))
        self.refine = SceneRefinement(self.in_channels[score_level], text_dim + 1, self.k,
                                      attn_dim, norm_cfg or dict(type='BN'), mlp_hidden)
        self.loss_ml = MODELS.build(dict(dict(type='AsymmetricLoss', loss_weight=10.0),
                                         **(loss_ml or {})))
        self.loss_aux = MODELS.build(dict(dict(type='SceneAttentionLoss', loss_weight=0.4,
                                               ignore_index=ignore_index), **(loss_aux or {})))

    def neck_in_channels(self) -> list[int]:
        return list(self.in_channels)

    def _present(self, data_samples, device) -> torch.Tensor:
        present = torch.zeros(len(data_samples), self.num_classes, dtype=torch.bool,
                              device=device)
        for i, sample in enumerate(data_samples):
            labels = sample.gt_sem_seg.data.unique()
            labels = labels[(labels != self.ignore_index) & (labels < self.num_classes)]
            present[i, labels.long()] = True
        return present

    def forward(self, features: BackboneOutput, text: torch.Tensor,
                data_samples: list | None = None,
                state: TrainState | None = None) -> CLIPSPOutput:
        global_emb, dense = self.backbone_embeddings(features)
        b, c, h, w = dense.shape
        tokens = torch.cat([global_emb[:, None], dense.flatten(2).transpose(1, 2)], dim=1)
        logits = self.decoder(tokens, self.broadcast_text(text, dense))          # B, K
        probs = torch.sigmoid(logits)
        training = self.training and data_samples is not None
        present = self._present(data_samples, dense.device) if training else None
        ratio = float(state.batch_drop_ratio) if training and state is not None else 0.0
        indices, values, dropped = select_scene_labels(probs.detach(), self.k, present, ratio)
        scene = torch.cat([text[indices].to(dense.dtype), values[..., None].to(dense.dtype)],
                          dim=-1)                                              # B, k, C+1
        maps = list(features.maps)
        maps[self.score_level], attn = self.refine(maps[self.score_level], scene)
        return CLIPSPOutput(maps, None, logits=logits, probs=probs, indices=indices,
                            attn=attn, grid=tuple(maps[self.score_level].shape[-2:]),
                            present=present, batch_drop_ratio=ratio, dropped=dropped)

    def loss(self, output: CLIPSPOutput, data_samples: list) -> dict[str, torch.Tensor]:
        """ASL on the multi-label logits and the auxiliary attention loss (Sec. 3.4)."""
        losses = {'loss_asl': self.loss_ml(output.logits, output.present.float())}
        gt = torch.stack([s.gt_sem_seg.data for s in data_samples]).float()   # B,1,H,W
        gt = F.interpolate(gt, size=output.grid, mode='nearest').long()[:, 0]
        losses['loss_scene_aux'] = self.loss_aux(output.attn, gt, output.indices)
        return losses

    def log_vars(self, output: CLIPSPOutput) -> dict[str, torch.Tensor]:
        """The batch-drop ratio used and the fraction of images dropped."""
        return {'batch_drop_ratio': output.logits.new_tensor(output.batch_drop_ratio,
                                                             dtype=torch.float32),
                'batch_dropped': output.dropped.float().mean()}

    def predict_extras(self, output: CLIPSPOutput) -> dict[str, torch.Tensor]:
        """The multi-label probabilities (B, K), read by ``MultiLabelMAP``."""
        return {'pred_multilabel': output.probs}
