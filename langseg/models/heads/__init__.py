"""Decode and auxiliary heads."""
from .identity_head import ScoreMapIdentityHead

__all__ = ['ScoreMapIdentityHead']
