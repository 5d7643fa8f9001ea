"""Files written whole or not at all: temp file in the same folder, flush, fsync, rename.

Every file langseg writes for a user to keep (runner checkpoints and ``last_checkpoint``,
converted checkpoints, ``--out`` label maps, ``get_flops --json``, ``reproduce --json``)
goes through :func:`atomic_write`: the bytes go to ``.<name>.tmp-<pid>-<n>`` beside the
final path, are flushed and fsynced, and the temp file is renamed over the final name with
``os.replace`` (atomic on POSIX within one file system); the folder is fsynced after the
rename so the new name survives a power loss. When anything fails (a full disk, a
read-only folder, an exception, a kill between write and rename) the final name keeps its
previous content, or stays absent, and the temp file is removed (a SIGKILL can leave a
``.tmp-`` file, never a truncated file under the final name).

:class:`AtomicLocalBackend` is the mmengine storage backend that writes this way; it is
registered (:func:`register_atomic_backend`, called by the hook) under the name
``langseg_atomic_local`` (a new name: mmengine's own ``local``
backend is left unchanged). :class:`langseg.engine.work_dir.AtomicCheckpointHook` saves
the runner's checkpoints through it.
"""
from __future__ import annotations

import itertools
import json
import os
import os.path as osp
from pathlib import Path
from typing import Any, Callable, Union

from mmengine.fileio.backends import LocalBackend, register_backend

_COUNTER = itertools.count()

#: Opens the temp file (``open``); a seam for tests that inject write faults.
_open: Callable[..., Any] = open


def temp_path_for(path: str) -> str:
    """A temp name in the folder of ``path``, unique per process and call."""
    folder, name = osp.split(osp.abspath(path))
    return osp.join(folder, f'.{name}.tmp-{os.getpid()}-{next(_COUNTER)}')


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def atomic_write(path: Union[str, Path], data: Union[bytes, str, Callable[[Any], None]],
                 text: bool = False) -> str:
    """Write ``data`` to ``path`` atomically (see the module docstring); returns ``path``.

    ``data`` is bytes, a str (written as UTF-8), or a function called with the open binary
    file object (e.g. ``lambda f: torch.save(obj, f)``). The folder must exist.
    """
    path = str(path)
    tmp = temp_path_for(path)
    try:
        with _open(tmp, 'wb') as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode('utf-8') if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(osp.dirname(osp.abspath(path)))
    return path


def atomic_write_json(path: Union[str, Path], obj: Any, **kwargs) -> str:
    """``json.dump(obj)`` to ``path`` atomically (parent folders are created)."""
    os.makedirs(osp.dirname(osp.abspath(str(path))), exist_ok=True)
    return atomic_write(path, json.dumps(obj, **kwargs))


def atomic_torch_save(obj: Any, path: Union[str, Path]) -> str:
    """``torch.save(obj, path)`` atomically."""
    import torch
    return atomic_write(path, lambda f: torch.save(obj, f))


class AtomicLocalBackend(LocalBackend):
    """mmengine's local storage backend with atomic ``put`` / ``put_text``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        os.makedirs(osp.dirname(osp.abspath(str(filepath))), exist_ok=True)
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        os.makedirs(osp.dirname(osp.abspath(str(filepath))), exist_ok=True)
        atomic_write(filepath, obj.encode(encoding))


BACKEND_NAME = 'langseg_atomic_local'


def register_atomic_backend() -> str:
    """Register :class:`AtomicLocalBackend` with mmengine under :data:`BACKEND_NAME` (a
    new name; nothing of mmengine is replaced) and return the name."""
    from mmengine.fileio.backends.registry_utils import backends
    if backends.get(BACKEND_NAME) is not AtomicLocalBackend:
        register_backend(BACKEND_NAME, AtomicLocalBackend, force=True)
    return BACKEND_NAME

__all__ = ['AtomicLocalBackend', 'BACKEND_NAME', 'atomic_torch_save', 'atomic_write',
           'atomic_write_json', 'register_atomic_backend', 'temp_path_for']
