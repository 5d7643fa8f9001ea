"""The shared rule engine of the converters from officially released checkpoints to langseg
state dicts (``common``): every key of the official file is placed by an explicit rule; a
key no rule places is refused with a message naming it (nothing is dropped silently).

Each method's converter lives in its folder and uses this engine: DenseCLIP's
(``langseg.methods.denseclip.convert``), SegCLIP's (``langseg.methods.segclip.convert``).
``tools/convert_checkpoint.py`` is the command line; the result loads strictly into the
matching langseg config.
"""
from .common import ConversionError, convert_state_dict

__all__ = ['ConversionError', 'convert_state_dict']
