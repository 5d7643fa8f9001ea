from .checkpoint import (check_checkpoint_matches, install_safe_checkpoint_loader,
                         load_checkpoint_file)
from .determinism import CuDNNDeterministicHook
from .hooks import BatchDropHook, DatasetMetaHook, batch_drop_ratio
from .rng_state import RNGStateHook
from .work_dir import AtomicCheckpointHook
from .optim import LRGroupsOptimWrapperConstructor
from .model_wrappers import CPUDistributedDataParallel
from .runner import LangsegRunner
from .warmup_cosine import WarmupCosineLR, warmup_cosine_factor
from .schedulers import PolyLRWithWarmup

__all__ = ['AtomicCheckpointHook', 'BatchDropHook', 'CPUDistributedDataParallel',
           'CuDNNDeterministicHook', 'DatasetMetaHook', 'LRGroupsOptimWrapperConstructor',
           'LangsegRunner',
           'PolyLRWithWarmup', 'RNGStateHook', 'WarmupCosineLR', 'warmup_cosine_factor',
           'batch_drop_ratio', 'check_checkpoint_matches',
           'install_safe_checkpoint_loader', 'load_checkpoint_file']
