"""Segmentors: how a method is wired."""
from .language_guided import LanguageGuidedEncoderDecoder

__all__ = ['LanguageGuidedEncoderDecoder']
