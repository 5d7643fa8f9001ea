"""Segmentors: how a method is wired."""
from .language_guided import LanguageGuidedEncoderDecoder
from .proxyclip import ProxyCLIPSegmentor

__all__ = ['LanguageGuidedEncoderDecoder', 'ProxyCLIPSegmentor']
