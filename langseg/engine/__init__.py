from .checkpoint import (check_checkpoint_matches, install_safe_checkpoint_loader,
                         load_checkpoint_file)
from .hooks import BatchDropHook, batch_drop_ratio
from .rng_state import RNGStateHook
from .work_dir import AtomicCheckpointHook
from .optim import LRGroupsOptimWrapperConstructor
from .model_wrappers import CPUDistributedDataParallel

__all__ = ['AtomicCheckpointHook', 'BatchDropHook', 'CPUDistributedDataParallel',
           'LRGroupsOptimWrapperConstructor', 'RNGStateHook',
           'batch_drop_ratio', 'check_checkpoint_matches',
           'install_safe_checkpoint_loader', 'load_checkpoint_file']
