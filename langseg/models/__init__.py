"""Models: segmentors, necks, heads, losses, backbones, and the shared CLIP/layers code."""
from . import backbones, clip, heads, layers, losses, necks, segmentors  # noqa: F401
