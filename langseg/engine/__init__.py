from .checkpoint import (check_checkpoint_matches, install_safe_checkpoint_loader,
                         load_checkpoint_file)
from .hooks import BatchDropHook, DatasetMetaHook, batch_drop_ratio
from .optim import LRGroupsOptimWrapperConstructor
from .model_wrappers import CPUDistributedDataParallel

__all__ = ['BatchDropHook', 'DatasetMetaHook', 'CPUDistributedDataParallel',
           'LRGroupsOptimWrapperConstructor',
           'batch_drop_ratio', 'check_checkpoint_matches',
           'install_safe_checkpoint_loader', 'load_checkpoint_file']
