"""Inference entry points used by tools/demo.py and tools/webdemo.py."""
from .inference import (OpenVocabularySegmenter, SegmentationResult, parse_class_words,
                        read_image)
from .visualize import class_areas, overlay_with_legend, palette

__all__ = ['OpenVocabularySegmenter', 'SegmentationResult', 'class_areas',
           'overlay_with_legend', 'palette', 'parse_class_words', 'read_image']
