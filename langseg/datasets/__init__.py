from .checked_pipeline import data_checks_options, install_checked_loading
from .checks import DATASET_LAYOUTS, check_data_roots
from .folder import FolderSegDataset, folder_classes
from .image_text import (COCOCaptionsDataset, ImageTextCSVDataset, ImageTextTarDataset,
                         ToyImageTextDataset,
                         patch_majority_labels)
from .open_vocab import (ADE20K847Dataset, COCOObjectDataset, PascalContext459Dataset,
                         PascalVOC20Dataset)
from .transforms import CheckedLoadAnnotations, CheckedLoadImageFromFile, LoadAnnotations16
from .toy_shapes import (TOY_CLASSES, ToyShapesDataset, generate_toy_image_text,
                         generate_toy_shapes, toy_caption)

__all__ = ['ADE20K847Dataset', 'COCOCaptionsDataset', 'COCOObjectDataset', 'CheckedLoadAnnotations',
           'CheckedLoadImageFromFile', 'DATASET_LAYOUTS', 'FolderSegDataset', 'folder_classes', 'ImageTextCSVDataset',
           'ImageTextTarDataset', 'LoadAnnotations16', 'PascalContext459Dataset', 'PascalVOC20Dataset', 'TOY_CLASSES', 'ToyImageTextDataset',
           'ToyShapesDataset', 'check_data_roots', 'data_checks_options',
           'generate_toy_image_text', 'generate_toy_shapes', 'install_checked_loading', 'patch_majority_labels',
           'toy_caption']
