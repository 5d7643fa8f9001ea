from .errors import (CheckpointError, ConfigError, DataError, LangsegError, one_line,
                     run_cli)

__all__ = ['CheckpointError', 'ConfigError', 'DataError', 'LangsegError', 'one_line',
           'run_cli']
