"""Models: segmentors, necks, heads, losses, backbones, and the shared CLIP/layers code."""
from . import backbones, heads, losses, necks, segmentors  # noqa: F401  (registration)
