from .errors import (CheckpointError, ConfigError, DataError, LangsegError, did_you_mean,
                     one_line, run_cli)

__all__ = ['CheckpointError', 'ConfigError', 'DataError', 'LangsegError', 'did_you_mean',
           'one_line', 'run_cli']
