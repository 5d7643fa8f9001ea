"""ProxyCLIP (Lan et al., ECCV 2024, arXiv:2408.04883) and its MaskCLIP attention mode
(Zhou et al., ECCV 2022, arXiv:2112.01071): a training-free open-vocabulary segmentor on
the shared open-vocabulary path. The VFM wrappers (``langseg.models.backbones.vfm``) and the
proxy attention (``langseg.models.layers.proxy_attention``) are shared layers, for other
training-free methods to use."""
from .segmentor import ProxyCLIPSegmentor

__all__ = ['ProxyCLIPSegmentor']
