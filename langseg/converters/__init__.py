"""Converters from the officially released checkpoints to langseg state dicts.

* ``segclip``: SegCLIP's released model (github.com/ArrowLuo/SegCLIP).

Every key of the official file is placed by an explicit rule; a key no rule places is
refused with a message naming it (nothing is dropped silently). A method's own converter
lives in its folder (DenseCLIP's: ``langseg.methods.denseclip.convert``) and uses the rules
engine of ``common``. ``tools/convert_checkpoint.py``
is the command line; the result loads strictly into the matching langseg config.
"""
from .common import ConversionError, convert_state_dict
from .segclip import convert_segclip, export_segclip

CONVERTERS = {'segclip': convert_segclip}

__all__ = ['CONVERTERS', 'ConversionError', 'convert_segclip', 'convert_state_dict',
           'export_segclip']
