"""``import langseg`` makes mmengine checkpoints loadable with ``weights_only=True`` and
changes nothing else in another library (but for the ``langseg::`` config scheme, checked in
tests/test_package_configs.py).

It registers the classes an mmengine checkpoint pickles with torch's safe-loading allowlist
and routes mmengine's local-file scheme through langseg's ``weights_only=True`` loader;
every other checkpoint scheme keeps mmengine's loader. Each check runs in a fresh
interpreter.
"""
import json
import subprocess
import sys

from .conftest import REPO, tool_env

PROBE = r'''
import json, sys
import torch
from mmengine.runner.checkpoint import CheckpointLoader


def loaders():
    return {scheme: f'{fn.__module__}.{fn.__qualname__}'
            for scheme, fn in dict(CheckpointLoader._schemes).items()}


def safe_globals():
    """torch's process-wide safe globals, except torch's own: torch registers its classes
    as its submodules are imported (``torch.distributed``, ``torch._dynamo``, ...), which
    importing mmseg does; anything else was registered by someone else."""
    names = []
    for entry in torch.serialization.get_safe_globals():
        obj, name = entry if isinstance(entry, tuple) else (entry, None)
        module = getattr(obj, '__module__', None) or ''
        if module == 'torch' or module.startswith('torch.'):
            continue
        names.append(f'{module}.{getattr(obj, "__qualname__", repr(obj))}'
                     + (f' as {name}' if name else ''))
    return sorted(names)


before = dict(loaders=loaders(), safe_globals=safe_globals())
import langseg  # noqa: E402,F401
after = dict(loaders=loaders(), safe_globals=safe_globals())
import langseg.engine  # noqa: E402
langseg.engine.install_safe_checkpoint_loader()   # idempotent
again = dict(loaders=loaders(), safe_globals=safe_globals())
print(json.dumps(dict(before=before, after=after, again=again)))
'''


def _probe() -> dict:
    proc = subprocess.run([sys.executable, '-c', PROBE], capture_output=True, text=True,
                          timeout=300, env=tool_env(), cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_langseg_registers_checkpoint_loading_only():
    state = _probe()
    before, after = state['before'], state['after']
    assert before['loaders'], 'mmengine registers its loaders on import'
    assert not before['loaders'][''].startswith('langseg.')
    assert after['loaders'][''] == 'langseg.engine.checkpoint._load_from_local'
    # Only the local-file scheme changes.
    others = {k: v for k, v in after['loaders'].items() if k != ''}
    assert others == {k: v for k, v in before['loaders'].items() if k != ''}
    added = set(after['safe_globals']) - set(before['safe_globals'])
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in added
    assert 'langseg.utils.state_dict._history_buffer_getattr as builtins.getattr' in added
    assert 'numpy.ndarray' in added
    # Nothing beyond mmengine's history buffer, the restricted getattr and numpy.
    assert all(name.startswith(('numpy.', 'mmengine.logging.history_buffer.',
                                'langseg.utils.state_dict._history_buffer_getattr'))
               for name in added), sorted(added)
    assert state['again'] == after, 'installing twice changes nothing'
