"""SegCLIP (Luo et al., "SegCLIP: Patch Aggregation with Learnable Centers for
Open-Vocabulary Semantic Segmentation", ICML 2023, arXiv:2211.14813): one encoder, two
models.

* :mod:`.encoder`: the semantic-group ViT (``SemanticGroupViT`` -> ``GroupOutput``);
* :mod:`.zeroshot`: ``SegCLIP``, the training-free zero-shot segmentor on the shared
  open-vocabulary path (window scores only);
* :mod:`.pretrain`: ``SegCLIPPretrainer``, the zero-shot segmentor plus the pretraining
  losses and the MAE reconstruction branch, trained on image-text pairs;
* :mod:`.losses`, :mod:`.image_text_data`: the pretraining losses and data;
* :mod:`.convert`: the official release -> langseg keys.

Checkpoint rule: a pretraining checkpoint's ``segmentor.*`` keys load into ``SegCLIP``
without the prefix, its ``reconstruction.*`` keys are dropped
(:func:`.zeroshot.zero_shot_state_dict`).
"""
from .convert import convert_segclip, export_segclip
from .encoder import (GroupAssignment, GroupOutput, SemanticGroupModule, SemanticGroupViT,
                      gumbel_assignment)
from .image_text_data import (COCOCaptionsDataset, ImageTextCSVDataset, ImageTextTarDataset,
                              ToyImageTextDataset, patch_majority_labels)
from .losses import (ContrastiveLoss, MaskedPatchMSELoss, SuperpixelKLLoss, contrastive_loss,
                     gather_with_grad, superpixel_kl_loss)
from .pretrain import (LOSSES, MaskedReconstructionHead, SegCLIPPretrainer, patchify,
                       random_keep_indices)
from .zeroshot import SegCLIP, background_indicator, zero_shot_state_dict

__all__ = ['COCOCaptionsDataset', 'ContrastiveLoss', 'GroupAssignment', 'GroupOutput',
           'ImageTextCSVDataset', 'ImageTextTarDataset', 'LOSSES', 'MaskedPatchMSELoss',
           'MaskedReconstructionHead', 'SegCLIP', 'SegCLIPPretrainer', 'SemanticGroupModule',
           'SemanticGroupViT', 'SuperpixelKLLoss', 'ToyImageTextDataset',
           'background_indicator', 'contrastive_loss', 'convert_segclip', 'export_segclip',
           'gather_with_grad', 'gumbel_assignment', 'patch_majority_labels', 'patchify',
           'random_keep_indices', 'superpixel_kl_loss', 'zero_shot_state_dict']
