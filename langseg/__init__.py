"""langseg: CLIP-guided semantic segmentation on MMSegmentation 1.x.

Importing ``langseg`` registers every module into mmseg's registries (MODELS, DATASETS,
TRANSFORMS, METRICS, HOOKS, MODEL_WRAPPERS) and changes nothing else in another library.
mmengine's local checkpoint loading is routed through langseg's ``weights_only=True``
loader only where langseg loads checkpoints through mmengine: the runner builders of
``tools/train.py`` / ``tools/test.py`` (:mod:`langseg.engine.launch`) and
:class:`langseg.apis.OpenVocabularySegmenter`. Code that builds an mmengine ``Runner``
itself calls :func:`langseg.engine.install_safe_checkpoint_loader` first (see
:mod:`langseg.engine.checkpoint`).
"""
from .version import __version__
from . import datasets, engine, evaluation, models  # noqa: F401,E402  (registration)

__all__ = ['__version__']
