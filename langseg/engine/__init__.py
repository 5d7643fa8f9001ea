from .checkpoint import (check_checkpoint_matches, install_safe_checkpoint_loader,
                         load_checkpoint_file)
from .model_wrappers import CPUDistributedDataParallel

__all__ = ['CPUDistributedDataParallel', 'check_checkpoint_matches',
           'install_safe_checkpoint_loader', 'load_checkpoint_file']
