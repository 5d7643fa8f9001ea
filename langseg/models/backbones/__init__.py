"""Backbones: CLIP ResNet/ViT with dense outputs, a generic timm feature wrapper, vision
foundation models (VFMs), SAM's prompt encoder / mask decoder (``sam_prompt``) and the
region-mask generators (``mask_generators``; SAM's automatic one: ``sam_mask_generator``).
(ImageNet ResNet, MobileNetV2 and Swin come from mmseg.)"""
from .clip_resnet import CLIPResNet
from .clip_vit import CLIPViT
from .mask_generators import (MaskGenerator, NoMaskGenerator, PrecomputedMaskGenerator,
                              SuperpixelMaskGenerator, paint_instance_map)
from .output import BackboneOutput, Embeddings
from .sam_mask_generator import SamMaskGenerator, SamMasks
from .sam_prompt import SamPrediction, SamPromptDecoder, load_sam_prompt_weights
from .timm_backbone import TimmFeatureBackbone
from .vfm import VFM_PRESETS, ModuleLayerVFM, TimmVFM

__all__ = ['BackboneOutput', 'CLIPResNet', 'CLIPViT', 'Embeddings', 'ModuleLayerVFM',
           'SamPrediction', 'SamPromptDecoder', 'TimmFeatureBackbone', 'TimmVFM',
           'load_sam_prompt_weights',
           'VFM_PRESETS',
           'MaskGenerator', 'NoMaskGenerator', 'PrecomputedMaskGenerator',
           'SuperpixelMaskGenerator', 'paint_instance_map',
           'SamMaskGenerator', 'SamMasks']
