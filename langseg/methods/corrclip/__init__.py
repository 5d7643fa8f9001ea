"""CorrCLIP (Zhang, Liu and Tang, ICCV 2025, arXiv:2411.10086): region-constrained
correlations from a mask generator and a VFM in CLIP's last block, two extra branches and
a per-region map correction (docs/methods/corrclip.md)."""
from .regions import connected_clusters, correct_labels, merge_regions, scope_mask
from .segmentor import CorrCLIPSegmentor, spatial_blocks

__all__ = ['CorrCLIPSegmentor', 'connected_clusters', 'correct_labels', 'merge_regions',
           'scope_mask', 'spatial_blocks']
