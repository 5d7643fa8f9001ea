"""Method losses, registered in MODELS and configurable (``loss_weight`` each)."""
from .asl import AsymmetricLoss, asymmetric_loss
from .image_text import (ContrastiveLoss, MaskedPatchMSELoss, SuperpixelKLLoss,
                         contrastive_loss, gather_with_grad, superpixel_kl_loss)
from .scene_attention import SceneAttentionLoss, scene_attention_targets

__all__ = ['AsymmetricLoss', 'ContrastiveLoss', 'MaskedPatchMSELoss', 'SceneAttentionLoss',
           'SuperpixelKLLoss', 'asymmetric_loss', 'contrastive_loss', 'gather_with_grad',
           'scene_attention_targets', 'superpixel_kl_loss']
