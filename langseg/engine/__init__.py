from .checkpoint import (check_checkpoint_matches, install_safe_checkpoint_loader,
                         load_checkpoint_file)
from .hooks import BatchDropHook, batch_drop_ratio
from .optim import LRGroupsOptimWrapperConstructor
from .model_wrappers import CPUDistributedDataParallel
from .schedulers import PolyLRWithWarmup

__all__ = ['BatchDropHook', 'CPUDistributedDataParallel', 'LRGroupsOptimWrapperConstructor',
           'PolyLRWithWarmup',
           'batch_drop_ratio', 'check_checkpoint_matches',
           'install_safe_checkpoint_loader', 'load_checkpoint_file']
