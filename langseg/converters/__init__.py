"""Converters from the officially released checkpoints to langseg state dicts.

* ``denseclip``: DenseCLIP's segmentation checkpoints (github.com/raoyongming/DenseCLIP,
  ``segmentation/``: RN50 / RN101 / ViT-B/16 with Semantic FPN);

Every key of the official file is placed by an explicit rule; a key no rule places is
refused with a message naming it (nothing is dropped silently). SegCLIP's converter lives
with its method (``langseg.methods.segclip.convert``). ``tools/convert_checkpoint.py``
is the command line; the result loads strictly into the matching langseg config.
"""
from .common import ConversionError, convert_state_dict
from .denseclip import DENSECLIP_RULES, convert_denseclip, export_denseclip

CONVERTERS = {'denseclip': convert_denseclip}

__all__ = ['CONVERTERS', 'ConversionError', 'DENSECLIP_RULES', 'convert_denseclip',
           'convert_state_dict', 'export_denseclip']
