"""Method losses, registered in MODELS and configurable (``loss_weight`` each)."""
from .asl import AsymmetricLoss, asymmetric_loss
from .scene_attention import SceneAttentionLoss, scene_attention_targets

__all__ = ['AsymmetricLoss', 'SceneAttentionLoss', 'asymmetric_loss',
           'scene_attention_targets']
