"""Trident (Shi, Dong and Xu, ICCV 2025, arXiv:2411.09219): CLIP + DINO on sub-images,
spliced, then aggregated by SAM's attention over the whole image."""
from .guidance import image_proxy_attention, sam_guidance, sam_last_attention, splice_windows
from .segmentor import TridentSegmentor

__all__ = ['TridentSegmentor', 'image_proxy_attention', 'sam_guidance', 'sam_last_attention',
           'splice_windows']
