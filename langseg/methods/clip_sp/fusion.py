"""CLIP-SP between the backbone and Semantic FPN (Li et al., "CLIP-SP: Vision-language model
with adaptive prompting for scene parsing", Computational Visual Media 2024,
doi:10.1007/s41095-024-0430-4): the multi-label decoder (``decoder.py``), the top-k scene
labels with batch drop (``scene_labels.py``, Sec. 3.5) and the scene refinement of x4
(Sec. 3.3, Eq. 3-4); the losses of Sec. 3.4 are in ``losses.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import nn

from ...models.backbones.output import BackboneOutput
from ...models.segmentors.fusion_contract import BaseFusion, FusionOutput, TrainState
from ...registry import MODELS
from .scene_labels import select_scene_labels


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
