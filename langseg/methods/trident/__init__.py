"""Trident (Shi, Dong and Xu, ICCV 2025, arXiv:2411.09219): CLIP + DINO on sub-images,
spliced, then aggregated by SAM's attention over the whole image; the published path then
refines the label map with SAM's prompt encoder and mask decoder (``refinement``)."""
from .guidance import image_proxy_attention, sam_guidance, sam_last_attention, splice_windows
from .refinement import class_regions, sam_refinement
from .segmentor import TridentSegmentor

__all__ = ['TridentSegmentor', 'class_regions', 'image_proxy_attention', 'sam_guidance',
           'sam_last_attention', 'sam_refinement', 'splice_windows']
