"""langseg: CLIP-guided semantic segmentation on MMSegmentation 1.x.

Importing ``langseg`` registers every module into mmseg's registries (MODELS, DATASETS,
TRANSFORMS, METRICS, HOOKS, MODEL_WRAPPERS) and makes mmengine checkpoints loadable with
``weights_only=True`` (:func:`langseg.engine.install_safe_checkpoint_loader`: the classes an
mmengine checkpoint pickles are added to torch's safe-loading allowlist, and mmengine's
local-file loader reads with ``weights_only=True`` and refuses anything else in one line),
so mmseg's own tools and APIs load langseg checkpoints with only the configs'
``custom_imports = dict(imports=['langseg'])``. It changes nothing else in another library.
"""
from .version import __version__
from . import datasets, engine, evaluation, methods, models  # noqa: F401,E402  (registration)

engine.install_safe_checkpoint_loader()

__all__ = ['__version__']
