"""GLA-CLIP (Lee et al., CVPR 2026, arXiv:2603.23030): ProxyCLIP whose windows attend to
each other (key-value extension across windows, proxy anchors, dynamic normalisation)."""
from .attention import global_proxy_attention
from .segmentor import GLACLIPSegmentor

__all__ = ['GLACLIPSegmentor', 'global_proxy_attention']
