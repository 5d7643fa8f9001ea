"""Models: the shared CLIP and layer code, backbones, heads and the segmentors that wire a
method (the methods' own modules, losses included, are in ``langseg.methods``)."""
from . import backbones, clip, heads, layers, segmentors  # noqa: F401
