from .checked_pipeline import data_checks_options, install_checked_loading
from .checks import DATASET_LAYOUTS, check_data_roots
from .folder import FolderSegDataset, folder_classes
from .image_text import (COCOCaptionsDataset, ImageTextCSVDataset, ImageTextTarDataset,
                         ToyImageTextDataset,
                         patch_majority_labels)
from .open_vocab import COCOObjectDataset, PascalVOC20Dataset
from .transforms import CheckedLoadAnnotations, CheckedLoadImageFromFile
from .toy_shapes import (TOY_CLASSES, ToyShapesDataset, generate_toy_image_text,
                         generate_toy_shapes, toy_caption)

__all__ = ['COCOCaptionsDataset', 'COCOObjectDataset', 'CheckedLoadAnnotations',
           'CheckedLoadImageFromFile', 'DATASET_LAYOUTS', 'FolderSegDataset', 'folder_classes', 'ImageTextCSVDataset',
           'ImageTextTarDataset', 'PascalVOC20Dataset', 'TOY_CLASSES', 'ToyImageTextDataset',
           'ToyShapesDataset', 'check_data_roots', 'data_checks_options',
           'generate_toy_image_text', 'generate_toy_shapes', 'install_checked_loading', 'patch_majority_labels',
           'toy_caption']
