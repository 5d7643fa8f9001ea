from .checks import DATASET_LAYOUTS, check_data_roots
from .class_names import get_class_names, read_vocabulary
from .image_text import (COCOCaptionsDataset, ImageTextCSVDataset, ImageTextTarDataset,
                         ToyImageTextDataset,
                         patch_majority_labels)
from .open_vocab import COCOObjectDataset, PascalVOC20Dataset
from .toy_shapes import (TOY_CLASSES, ToyShapesDataset, generate_toy_image_text,
                         generate_toy_shapes, toy_caption)

__all__ = ['COCOCaptionsDataset', 'ImageTextCSVDataset', 'ImageTextTarDataset',
           'ToyImageTextDataset', 'patch_majority_labels', 'generate_toy_image_text', 'toy_caption', 'COCOObjectDataset', 'DATASET_LAYOUTS', 'PascalVOC20Dataset', 'TOY_CLASSES',
           'ToyShapesDataset', 'check_data_roots', 'generate_toy_shapes', 'get_class_names',
           'read_vocabulary']
