"""Shared losses, registered in MODELS and configurable (``loss_weight`` each); a method's
own losses live in its folder (``langseg.methods.<method>.losses``)."""
from .image_text import (ContrastiveLoss, MaskedPatchMSELoss, SuperpixelKLLoss,
                         contrastive_loss, gather_with_grad, superpixel_kl_loss)

__all__ = ['ContrastiveLoss', 'MaskedPatchMSELoss', 'SuperpixelKLLoss', 'contrastive_loss',
           'gather_with_grad', 'superpixel_kl_loss']
