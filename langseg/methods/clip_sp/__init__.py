"""CLIP-SP (Li et al., "CLIP-SP: Vision-language model with adaptive prompting for scene
parsing", Computational Visual Media 2024, doi:10.1007/s41095-024-0430-4): the multi-label
decoder, scene-label selection with batch drop, the scene-refinement fusion, its losses,
the batch-drop hook and the multi-label mAP metric."""
from .batch_drop_hook import BatchDropHook, batch_drop_ratio
from .fusion import (CLIPSPFusion, CLIPSPOutput, DualGraphFormerDecoder, MLPMultiLabelDecoder,
                     SceneRefinement, load_cooccurrence_adjacency)
from .losses import AsymmetricLoss, SceneAttentionLoss, asymmetric_loss, scene_attention_targets
from .multilabel_map import MultiLabelMAP, average_precision, present_classes
from .scene_labels import select_scene_labels

__all__ = ['AsymmetricLoss', 'BatchDropHook', 'CLIPSPFusion', 'CLIPSPOutput',
           'DualGraphFormerDecoder', 'MLPMultiLabelDecoder', 'MultiLabelMAP',
           'SceneAttentionLoss', 'SceneRefinement', 'asymmetric_loss', 'average_precision',
           'batch_drop_ratio', 'load_cooccurrence_adjacency', 'present_classes',
           'scene_attention_targets', 'select_scene_labels']
