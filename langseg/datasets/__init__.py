from .checks import DATASET_LAYOUTS, check_data_roots
from .toy_shapes import TOY_CLASSES, ToyShapesDataset, generate_toy_shapes

__all__ = ['DATASET_LAYOUTS', 'TOY_CLASSES', 'ToyShapesDataset', 'check_data_roots',
           'generate_toy_shapes']
