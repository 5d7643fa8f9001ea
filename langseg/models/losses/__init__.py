"""Method losses."""
from .asl import AsymmetricLoss, asymmetric_loss

__all__ = ['AsymmetricLoss', 'asymmetric_loss']
