"""SegCLIP's pretraining losses (Luo et al., "SegCLIP: Patch Aggregation with Learnable
Centers for Open-Vocabulary Semantic Segmentation", ICML 2023, arXiv:2211.14813), as
registered, configurable losses (``loss_weight`` each):

* :class:`ContrastiveLoss` (Eq. 8-10): symmetric cross-entropy of ``scale * I T^T`` over
  the *global* batch; features are gathered from every process with their gradient
  (``torch.distributed.nn.functional.all_gather``);
* :class:`MaskedPatchMSELoss` (Sec. 2.3, MAE's loss): per-patch MSE between predicted and
  target pixels, averaged over the masked patches only;
* :class:`SuperpixelKLLoss` (Sec. 2.4, Eq. 5-6): with A the per-patch assignment (the hard
  one, with its straight-through gradient) and M = S A / rowsum(S) its average over each
  patch's super-patch, ``0.5 [KL(softmax M || softmax A) + KL(softmax A || softmax M)]``
  summed over patches and centers, divided by B N L (the official normalisation).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from every process, keeping the gradient to each copy."""
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather
    return torch.cat(all_gather(x), dim=0)


def contrastive_loss(image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor
                     ) -> torch.Tensor:
    """Eq. 8-10 on l2-normalised (B, D) features of the global batch."""
    logits = scale * image @ text.t()
    target = torch.arange(len(image), device=image.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def superpixel_kl_loss(assignment: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 5-6. ``assignment`` (B, N, L) per-patch assignment; ``labels`` (B, N)
    superpixel id of each patch (negative: no label, the patch is its own super-patch)."""
    b, n, l_ = assignment.shape
    same = labels[:, :, None] == labels[:, None, :]                       # B, N, N
    same = same | torch.eye(n, dtype=torch.bool, device=labels.device)
    same = same.to(assignment.dtype)
    averaged = same @ assignment / same.sum(-1, keepdim=True)             # M of Eq. 5
    log_p = F.log_softmax(assignment, dim=-1)
    log_q = F.log_softmax(averaged, dim=-1)
    kl_qp = (log_q.exp() * (log_q - log_p)).sum()
    kl_pq = (log_p.exp() * (log_p - log_q)).sum()
    return 0.5 * (kl_qp + kl_pq) / (b * n * l_)


@MODELS.register_module()
class ContrastiveLoss(nn.Module):
    """Image-text contrastive loss over the global batch (Eq. 8-10).

    ``forward(image, text, scale)``: l2-normalised (B, D) features of this process and the
    logit scale; gathered across processes with gradient when ``gather`` is set."""

    def __init__(self, loss_weight: float = 1.0, gather: bool = True) -> None:
        super().__init__()
        self.loss_weight, self.gather = float(loss_weight), bool(gather)

    def forward(self, image: torch.Tensor, text: torch.Tensor,
                scale: torch.Tensor) -> torch.Tensor:
        if self.gather:
            image, text = gather_with_grad(image), gather_with_grad(text)
        return self.loss_weight * contrastive_loss(image, text, scale)


@MODELS.register_module()
class MaskedPatchMSELoss(nn.Module):
    """MSE of predicted and target patch pixels (B, N, P), averaged over the patches where
    ``masked`` (B, N) is 1 (MAE's loss without per-patch normalisation)."""

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                masked: torch.Tensor) -> torch.Tensor:
        per_patch = ((pred - target)**2).mean(-1)
        return self.loss_weight * (per_patch * masked).sum() / masked.sum().clamp(min=1)


@MODELS.register_module()
class SuperpixelKLLoss(nn.Module):
    """Symmetric KL between each patch's assignment and its super-patch's (Eq. 5-6)."""

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, assignment: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * superpixel_kl_loss(assignment, labels)
