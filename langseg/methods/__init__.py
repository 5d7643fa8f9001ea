"""The methods, one folder each, above the shared layers (docs/architecture.md): importing
this package registers every method's modules (langseg/__init__.py imports it)."""
from . import segclip  # noqa: F401
