from .checkpoint import (check_checkpoint_matches, install_safe_checkpoint_loader,
                         load_checkpoint_file)
from .determinism import CuDNNDeterministicHook
from .hooks import DatasetMetaHook
from .rng_state import RNGStateHook
from .work_dir import AtomicCheckpointHook
from .optim import LRGroupsOptimWrapperConstructor
from .model_wrappers import CPUDistributedDataParallel
from .runner import LangsegRunner
from .warmup_cosine import WarmupCosineLR, warmup_cosine_factor
from .schedulers import PolyLRWithWarmup
from .package_configs import (install_config_scheme, package_config_dir,
                              resolve_package_config)

__all__ = ['AtomicCheckpointHook', 'CPUDistributedDataParallel',
           'CuDNNDeterministicHook', 'DatasetMetaHook', 'LRGroupsOptimWrapperConstructor',
           'LangsegRunner',
           'PolyLRWithWarmup', 'RNGStateHook', 'WarmupCosineLR', 'warmup_cosine_factor',
           'check_checkpoint_matches',
           'install_config_scheme', 'install_safe_checkpoint_loader', 'load_checkpoint_file',
           'package_config_dir', 'resolve_package_config']
