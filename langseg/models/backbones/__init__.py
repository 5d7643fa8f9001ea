"""Backbones: CLIP ResNet/ViT with dense outputs, and a generic timm feature wrapper.
(ImageNet ResNet, MobileNetV2 and Swin come from mmseg.)"""
from .clip_resnet import CLIPResNet
from .clip_vit import CLIPViT
from .timm_backbone import TimmFeatureBackbone

__all__ = ['CLIPResNet', 'CLIPViT', 'TimmFeatureBackbone']
