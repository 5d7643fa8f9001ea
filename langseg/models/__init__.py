"""Models: segmentors, heads, losses, backbones, and the shared CLIP/layers code (the methods'
own modules are in ``langseg.methods``)."""
from . import backbones, clip, heads, layers, losses, segmentors  # noqa: F401
