"""The methods, one folder each, above the shared layers (docs/architecture.md).

A method's folder holds what only that method uses: its fusion module or segmentor, its
losses, hooks, metrics, converters and method-only text encoders. It may import the shared
layers (``models.*``, ``datasets``, ``evaluation``, ``engine``, ``converters``, ``utils``)
and never another method's folder; nothing below imports a method (``langseg/__init__``
imports this package, which registers every method's modules). Adding a method touches its
folder, its configs and its docs page (tests/test_architecture.py enforces the rules).
"""
from . import clip_sp, convformer, denseclip  # noqa: F401  (registration)
