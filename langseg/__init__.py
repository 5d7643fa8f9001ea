"""langseg: CLIP-guided semantic segmentation on MMSegmentation 1.x.

Importing ``langseg`` registers every module into mmseg's registries (MODELS, DATASETS,
TRANSFORMS, METRICS, HOOKS, MODEL_WRAPPERS) and routes mmengine's local checkpoint loading
through a ``weights_only=True`` loader (see :mod:`langseg.engine.checkpoint`).
"""
from .version import __version__
from . import datasets, engine, evaluation, models  # noqa: F401,E402  (registration)
from .engine.checkpoint import install_safe_checkpoint_loader

install_safe_checkpoint_loader()

__all__ = ['__version__']
