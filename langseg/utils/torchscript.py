"""Weights files read without running them: TorchScript tensors, and what a refused file
pickles.

* :func:`read_torchscript_tensors`: the parameters and buffers of a TorchScript archive
  (OpenAI's original CLIP ``.pt`` files), read from the archive's ``data.pkl`` with a
  restricted unpickler. ``torch.jit.load`` would compile the archive's ``code/`` and
  unpickle ``constants.pkl`` with the full unpickler; here nothing of the archive is
  compiled or run: the pickle may name only tensor rebuilding, storage types,
  ``OrderedDict`` and the archive's own module classes (``__torch__.*``, which become
  inert placeholders holding their attributes). Which attributes are parameters or buffers
  is read as text from the ``__parameters__`` / ``__buffers__`` lines of ``code/``; anything
  else is refused with a :class:`CheckpointError` naming it.
* :func:`describe_refusal`: why a torch checkpoint was refused, in words: a safetensors
  file given where a torch checkpoint is expected, the first global a pickle names outside
  the allowed set (found by reading the opcodes with ``pickletools``, nothing executed), a
  restricted ``getattr``, a numpy object array.
"""
from __future__ import annotations

import collections
import pickle
import pickletools
import re
import struct
import zipfile
from typing import Any

import torch

from .errors import CheckpointError

_STORAGE_DTYPES = {
    'FloatStorage': torch.float32, 'DoubleStorage': torch.float64,
    'HalfStorage': torch.float16, 'BFloat16Storage': torch.bfloat16,
    'LongStorage': torch.int64, 'IntStorage': torch.int32, 'ShortStorage': torch.int16,
    'CharStorage': torch.int8, 'ByteStorage': torch.uint8, 'BoolStorage': torch.bool,
}


class _StorageType:
    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


class ScriptObject:
    """An inert stand-in for a TorchScript module object: its class name and attributes."""

    qualname = '__torch__'

    def __setstate__(self, state: Any) -> None:
        self.__dict__['state'] = state


def _placeholder(qualname: str) -> type:
    return type('ScriptObject', (ScriptObject, ), {'qualname': qualname})


def _rebuild_tensor(storage: torch.Tensor, offset: int, size, stride, requires_grad=False,
                    hooks=None, *rest) -> torch.Tensor:
    if not isinstance(storage, torch.Tensor):
        raise pickle.UnpicklingError('a tensor without storage')
    return storage.as_strided(tuple(size), tuple(stride), int(offset))


class _TorchScriptUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, path: str):
        import io
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix, self.path = archive, prefix, path
        self.storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == '__torch__' or module.startswith('__torch__.'):
            return _placeholder(f'{module}.{name}')
        if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
            return _rebuild_tensor
        if (module, name) == ('collections', 'OrderedDict'):
            return collections.OrderedDict
        if module == 'torch' and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise CheckpointError(
            f'refused to load {self.path}: its TorchScript data.pkl pickles {module}.{name}, '
            'which is not a tensor, a storage or a module of the archive (TorchScript '
            'archives are read for their tensors only; nothing in them is run)')

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == 'storage'
                and isinstance(pid[1], _StorageType)):
            raise CheckpointError(f'refused to load {self.path}: its data.pkl refers to '
                                  f'{pid!r}, expected tensor storages only')
        key, dtype = str(pid[2]), pid[1].dtype
        if key not in self.storages:
            name = f'{self.prefix}data/{key}'
            try:
                raw = bytearray(self.archive.read(name))
            except KeyError:
                raise CheckpointError(f'{self.path} is not a readable TorchScript archive: '
                                      f'{name} is missing (truncated or corrupt)') from None
            self.storages[key] = torch.frombuffer(raw, dtype=dtype) if raw else \
                torch.empty(0, dtype=dtype)
        return self.storages[key]


_CLASS = re.compile(r'^class (\w+)\(Module\):\n((?:[ \t]+.*\n?)*)', re.M)
_LIST = re.compile(r'__(parameters|buffers)__ = \[([^\]]*)\]')


def _declared_tensors(archive: zipfile.ZipFile, prefix: str) -> dict[str, set[str]]:
    """``{'__torch__.a.B': {parameter and buffer names}}`` from the text of ``code/``."""
    found: dict[str, set[str]] = {}
    code = f'{prefix}code/'
    for name in archive.namelist():
        if not (name.startswith(code) and name.endswith('.py')):
            continue
        module = name[len(code):-3].replace('/', '.')
        text = archive.read(name).decode('utf-8', 'replace')
        for cls, body in _CLASS.findall(text):
            names: set[str] = set()
            for _, items in _LIST.findall(body):
                names.update(re.findall(r'"([^"]+)"', items))
            found[f'{module}.{cls}'] = names
    return found


def _collect(obj: Any, prefix: str, declared: dict[str, set[str]], out: dict) -> None:
    state = obj.__dict__.get('state') if isinstance(obj, ScriptObject) else None
    if not isinstance(state, dict):
        return
    wanted = declared.get(type(obj).qualname)
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            if wanted is None or key in wanted:
                out[prefix + str(key)] = value
        elif isinstance(value, ScriptObject):
            _collect(value, f'{prefix}{key}.', declared, out)


def read_torchscript_tensors(path: str) -> dict[str, torch.Tensor]:
    """The state dict of the TorchScript archive ``path`` (see the module docstring)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise CheckpointError(f'{path} is not a readable TorchScript archive (not a zip '
                              'file, or truncated)') from None
    with archive:
        data_name = next((n for n in archive.namelist()
                          if n.endswith('/data.pkl') and n.count('/') == 1), None)
        if data_name is None:
            raise CheckpointError(f'{path} is not a TorchScript archive: it holds no '
                                  '<name>/data.pkl')
        prefix = data_name[:-len('data.pkl')]
        try:
            root = _TorchScriptUnpickler(archive.read(data_name), archive, prefix,
                                         path).load()
        except CheckpointError:
            raise
        except Exception as exc:
            raise CheckpointError(f'{path} is not a readable TorchScript archive '
                                  f'({type(exc).__name__}: {exc})') from None
        out: dict[str, torch.Tensor] = {}
        _collect(root, '', _declared_tensors(archive, prefix), out)
    if not out:
        raise CheckpointError(f'{path} holds no tensors in its TorchScript data.pkl')
    return {k: v.clone() for k, v in out.items()}


# ------------------------------------------------------------ refusal messages
def is_safetensors(path: str) -> bool:
    """Whether ``path`` starts as a safetensors file does (header length, then JSON)."""
    try:
        with open(path, 'rb') as f:
            head = f.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:9] == b'{' and struct.unpack('<Q', head[:8])[0] < 10**9


def pickled_globals(data: bytes) -> list[str]:
    """The ``module.name`` globals a pickle refers to, read from its opcodes (nothing is
    executed). Several pickles in a row (torch's legacy format) are read one by one."""
    found: list[str] = []
    pos = 0
    while pos < len(data):
        strings: list[str] = []
        memo: dict[int, Any] = {}
        try:
            for op, arg, end_pos in pickletools.genops(data[pos:]):
                if op.name == 'GLOBAL':
                    found.append(str(arg).replace(' ', '.'))
                elif op.name in ('SHORT_BINUNICODE', 'BINUNICODE', 'UNICODE',
                                 'BINUNICODE8'):
                    strings.append(arg)
                elif op.name == 'MEMOIZE' and strings:
                    memo[len(memo)] = strings[-1]
                elif op.name in ('BINPUT', 'LONG_BINPUT', 'PUT') and strings:
                    memo[int(arg)] = strings[-1]
                elif op.name in ('BINGET', 'LONG_BINGET', 'GET') and \
                        isinstance(memo.get(int(arg)), str):
                    strings.append(memo[int(arg)])
                elif op.name == 'STACK_GLOBAL' and len(strings) >= 2:
                    found.append(f'{strings[-2]}.{strings[-1]}')
                if op.name == 'STOP':
                    pos += end_pos + 1 if end_pos is not None else len(data)
                    break
            else:
                break
        except Exception:  # not a pickle (any more)
            break
    return found


_ALLOWED_PREFIXES = ('torch.', 'collections.OrderedDict', 'numpy.', 'builtins.getattr',
                     'mmengine.logging.history_buffer.HistoryBuffer', '_codecs.encode')


def _pickle_bytes(path: str) -> bytes:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith('data.pkl')), None)
            return archive.read(name) if name else b''
    with open(path, 'rb') as f:
        return f.read(64 * 2**20)


def describe_refusal(path: str, message: str) -> str | None:
    """What ``path`` holds that ``torch.load(weights_only=True)`` refused (``message`` is
    torch's error), or ``None`` when it is not a refusal (a corrupt or truncated file)."""
    if is_safetensors(path):
        return ('is a safetensors file, not a torch checkpoint: expected a .pth file '
                'written by tools/train.py or torch.save (a safetensors file is read where '
                'pretrained weights are, e.g. model.backbone.pretrained, or converted with '
                'tools/convert_checkpoint.py)')
    found = re.search(r"getattr\((<class '([\w.]+)'>|[^,]+), ('[^']*')\) is not allowed",
                      message)
    if found:
        owner = (found.group(2) or found.group(1)).rsplit('.', 1)[-1]
        return f'pickles getattr({owner}, {found.group(3)}), which is not allowed'
    if 'ObjectDType' in message or "dtype('O')" in message:
        return 'pickles a numpy object array (numpy.dtypes.ObjectDType), which may hold ' \
               'any Python object'
    try:
        names = pickled_globals(_pickle_bytes(path))
    except (OSError, zipfile.BadZipFile, KeyError):
        names = []
    unsafe = [n for n in names if not n.startswith(_ALLOWED_PREFIXES)]
    if unsafe:
        return f'pickles {unsafe[0]}, which is not a tensor, a plain container or one of ' \
               'the mmengine/numpy classes langseg allows'
    found = re.search(r'GLOBAL ([\w.]+)', message)
    if found:
        return f'pickles {found.group(1)}, which is not a tensor, a plain container or one ' \
               'of the mmengine/numpy classes langseg allows'
    return None


__all__ = ['ScriptObject', 'describe_refusal', 'is_safetensors', 'pickled_globals',
           'read_torchscript_tensors']
