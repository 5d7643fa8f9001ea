"""``import langseg`` registers modules and patches nothing in another library.

mmengine's checkpoint loader is replaced only when langseg's runner builders (or
``langseg.apis``) ask for it, through ``langseg.engine.install_safe_checkpoint_loader()``.
Each check runs in a fresh interpreter: the test process itself may already have installed
the loader (other tests build runners).
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
langseg.engine.install_safe_checkpoint_loader()
installed = dict(loaders=loaders(), safe_globals=safe_globals())
print(json.dumps(dict(before=before, after=after, installed=installed)))
'''


def _probe() -> dict:
    proc = subprocess.run([sys.executable, '-c', PROBE], capture_output=True, text=True,
                          timeout=300, env=tool_env(), cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_langseg_changes_no_loader_and_no_safe_globals():
    state = _probe()
    before, after = state['before'], state['after']
    assert before['loaders'], 'mmengine registers its loaders on import'
    assert after['loaders'] == before['loaders']
    assert after['safe_globals'] == before['safe_globals']
    assert not before['loaders'][''].startswith('langseg.')


def test_install_routes_local_files_through_langseg():
    state = _probe()
    installed = state['installed']
    assert installed['loaders'][''] == 'langseg.engine.checkpoint._load_from_local'
    # Only the local-file scheme changes, and nothing is registered process-wide in torch.
    others = {k: v for k, v in installed['loaders'].items() if k != ''}
    assert others == {k: v for k, v in state['before']['loaders'].items() if k != ''}
    assert installed['safe_globals'] == state['before']['safe_globals']


BUILDER_PROBE = r'''
import sys
from mmengine.runner.checkpoint import CheckpointLoader
import langseg  # noqa: F401
from langseg.engine.launch import build_test_runner, build_train_runner
name = lambda: CheckpointLoader._schemes[''].__module__
assert not name().startswith('langseg'), name()
build = build_train_runner if sys.argv[1] == 'train' else build_test_runner
build(sys.argv[2], work_dir=sys.argv[3])
print(name())
'''


def test_runner_builders_install_the_loader(tiny_toy_config, tmp_path):
    for which in ('train', 'test'):
        proc = subprocess.run(
            [sys.executable, '-c', BUILDER_PROBE, which, tiny_toy_config,
             str(tmp_path / which)], capture_output=True, text=True, timeout=300,
            env=tool_env(), cwd=REPO)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.strip().splitlines()[-1] == 'langseg.engine.checkpoint', which
