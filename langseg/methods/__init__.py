"""Methods: one sub-package per method, above the shared layers (docs/architecture.md).

Each folder holds everything only that method uses (its segmentor or fusion module, losses,
hooks, metrics, converters, method-only text encoders) and registers it into mmseg's
registries on import. A method imports the shared layers (``models``, ``datasets``,
``evaluation``, ``utils``, ``registry``), never another method.
"""
from . import clearclip, clip_sp, convformer, denseclip, naclip, proxyclip, sclip, segclip  # noqa: F401  (registration)
from . import glaclip, trident  # noqa: F401  (registration)
from . import corrclip  # noqa: F401  (registration)
from . import resclip, scclip  # noqa: F401  (registration)
