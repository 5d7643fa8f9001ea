"""Segmentors: how a method is wired."""
from .language_guided import LanguageGuidedEncoderDecoder
from .segclip import SegCLIP

__all__ = ['LanguageGuidedEncoderDecoder', 'SegCLIP']
