"""Segmentors: how a method is wired."""
from .language_guided import LanguageGuidedEncoderDecoder
from .proxyclip import ProxyCLIPSegmentor
from .segclip import SegCLIP

__all__ = ['LanguageGuidedEncoderDecoder', 'ProxyCLIPSegmentor', 'SegCLIP']
