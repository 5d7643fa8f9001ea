"""Converters from the officially released checkpoints to langseg state dicts.

* ``denseclip``: DenseCLIP's segmentation checkpoints (github.com/raoyongming/DenseCLIP,
  ``segmentation/``: RN50 / RN101 / ViT-B/16 with Semantic FPN);
* ``segclip``: SegCLIP's released model (github.com/ArrowLuo/SegCLIP).

Every key of the official file is placed by an explicit rule; a key no rule places is
refused with a message naming it (nothing is dropped silently). ``tools/convert_checkpoint.py``
is the command line; the result loads strictly into the matching langseg config.
"""
from .common import ConversionError, convert_state_dict
from .denseclip import DENSECLIP_RULES, convert_denseclip, export_denseclip
from .segclip import convert_segclip, export_segclip

CONVERTERS = {'denseclip': convert_denseclip, 'segclip': convert_segclip}

__all__ = ['CONVERTERS', 'ConversionError', 'DENSECLIP_RULES', 'convert_denseclip',
           'convert_segclip', 'convert_state_dict', 'export_denseclip', 'export_segclip']
