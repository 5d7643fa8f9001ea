"""Shared fixtures: a tiny toy dataset, tiny configs, and a helper to run the tools."""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The on-disk text-embedding cache of the tests (and of the tools they run) stays out of
# the user's ~/.cache (langseg.models.clip.text_encoder.text_cache_dir).
os.environ.setdefault('LANGSEG_CACHE_DIR', tempfile.mkdtemp(prefix='langseg-test-cache-'))
TOY_CONFIG = osp.join(REPO, 'configs/toy/fpn_mobilenetv2-tiny_1xb8-1000_toy-96x96.py')
#: Generation settings of the tiny toy dataset used by tests (fast to generate and train).
TINY_TOY = dict(num_train=32, num_val=8, size=64, seed=1)


def threads_per_test_process() -> int:
    """CPU threads for torch in each test process: the cores shared among pytest-xdist
    workers (``make test`` runs two). Oversubscribed OpenMP threads spin-wait on each
    other and slow a two-worker run several times over, so each worker takes its share."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    return max(1, min(2, (os.cpu_count() or 1) // workers))


def tool_env() -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', str(threads_per_test_process()))
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    return env


def load_script(relpath: str):
    """A repository script that is not a package module (``tools/parity/*.py``,
    ``benchmarks/*.py``), imported from its path under the repository root."""
    import importlib.util
    name = osp.splitext(osp.basename(relpath))[0]
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _ToolServer:
    """The client of ``tests/tool_server.py``: one server per test process, started at
    the first tool run with that run's environment (see the server's docstring)."""

    def __init__(self, env: dict) -> None:
        self.env = dict(env)
        self.proc = subprocess.Popen(
            [sys.executable, osp.join(REPO, 'tests', 'tool_server.py')], env=self.env,
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        self.pending = b''
        self.lock = threading.Lock()  # one request at a time (a test's threads may share it)
        self.outputs = tempfile.mkdtemp(prefix='langseg-tool-output-')
        atexit.register(shutil.rmtree, self.outputs, True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _answer(self, timeout: float | None) -> dict:
        """The server's next answer line (its pipe read unbuffered: two answers can
        arrive together)."""
        import select
        fd = self.proc.stdout.fileno()
        while b'\n' not in self.pending:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, 4096)
            if not chunk:
                raise EOFError('the tool server exited')
            self.pending += chunk
        line, self.pending = self.pending.split(b'\n', 1)
        return json.loads(line)

    def run(self, cmd: list[str], cwd: str, timeout: float) -> subprocess.CompletedProcess:
        with self.lock:
            return self._run(cmd, cwd, timeout)

    def _run(self, cmd: list[str], cwd: str, timeout: float) -> subprocess.CompletedProcess:
        stdout, stderr = (osp.join(self.outputs, name) for name in ('stdout', 'stderr'))
        request = dict(argv=cmd[1:], cwd=cwd, stdout=stdout, stderr=stderr,
                       per_run_env={k: os.environ.get(k) for k in PER_RUN_VARIABLES})
        self.proc.stdin.write(json.dumps(request) + '\n')
        self.proc.stdin.flush()
        pid = self._answer(600)['pid']  # the first answer waits for the server's imports
        try:
            returncode = self._answer(timeout)['returncode']
            timed_out = False
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            self._answer(60)
            timed_out = True
        # text mode as subprocess.run(text=True): universal newlines
        with open(stdout, errors='replace') as f_out, open(stderr, errors='replace') as f_err:
            out, err = f_out.read(), f_err.read()
        if timed_out:
            raise subprocess.TimeoutExpired(cmd, timeout, output=out, stderr=err)
        return subprocess.CompletedProcess(cmd, returncode, out, err)


_tool_server: _ToolServer | None = None


def _default_server() -> _ToolServer | None:
    """The tool server for the default environment (``tool_env()``), started on first
    use; ``None`` when it is switched off or when the environment changed since it
    started (a test's monkeypatch), so that such runs start a fresh interpreter."""
    global _tool_server
    if os.environ.get('LANGSEG_TEST_FORK_SERVER', '1') == '0':
        return None
    env = _server_env(tool_env())
    if _tool_server is None or not _tool_server.alive():
        _tool_server = _ToolServer(env)
    return _tool_server if _tool_server.env == env else None


#: Variables that change from test to test and that no program reads at import time:
#: the child gets the current value (``tool_server._become_tool``); the server's
#: environment is compared without them.
PER_RUN_VARIABLES = ('PYTEST_CURRENT_TEST', )


def _server_env(env: dict) -> dict:
    return {k: v for k, v in env.items() if k not in PER_RUN_VARIABLES}


def run_python(args: list[str], cwd: str | None = None, timeout: int = 600,
               env: dict | None = None) -> subprocess.CompletedProcess:
    """``python ARGS`` (a script and its arguments, ``-c CODE ...`` or ``-m MODULE ...``)
    with this interpreter, stdout and stderr captured as text; the completed process.

    With the default environment (``env=None``: ``tool_env()``) the process is forked from
    the tool server (``tests/tool_server.py``: the third-party imports done once; to the
    program it is the same process as a fresh interpreter's); with another ``env``, a
    fresh interpreter."""
    cmd = [sys.executable, *args]
    server = _default_server() if env is None else None
    if server is not None:
        return server.run(cmd, cwd or REPO, timeout)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=env or tool_env(), cwd=cwd or REPO)


def run_tool(tool: str, *args: str, timeout: int = 600, env: dict | None = None,
             cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run ``tools/<tool>`` with this interpreter (:func:`run_python`)."""
    return run_python([osp.join(REPO, 'tools', tool), *args], cwd=cwd, timeout=timeout,
                      env=env)



def write_config(path: str, base: str, body: str = '') -> str:
    """Write a config inheriting from ``base`` (absolute path) with extra ``body``."""
    with open(path, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n' + textwrap.dedent(body))
    return path


def tiny_toy_body(data_root: str, max_iters: int = 20, val_interval: int = 20,
                  ckpt_interval: int = 10) -> str:
    """Config lines turning the toy config into a seconds-long run on ``data_root``."""
    return f"""
    toy = {TINY_TOY!r}
    train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                            dataset=dict(data_root={data_root!r}, generate=toy))
    val_dataloader = dict(num_workers=0, persistent_workers=False,
                          dataset=dict(data_root={data_root!r}, generate=toy))
    test_dataloader = val_dataloader
    model = dict(data_preprocessor=dict(size=(64, 64)))
    train_cfg = dict(max_iters={max_iters}, val_interval={val_interval})
    param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0,
                            end={max_iters}, by_epoch=False)]
    default_hooks = dict(logger=dict(interval=5),
                         checkpoint=dict(interval={ckpt_interval}))
    """


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory) -> str:
    """A generated tiny toy dataset shared by the session."""
    from langseg.datasets.toy_shapes import generate_toy_shapes
    root = str(tmp_path_factory.mktemp('data') / 'toy')
    generate_toy_shapes(root, progress=False, **TINY_TOY)
    return root


@pytest.fixture
def tiny_toy_config(tmp_path, toy_root) -> str:
    """A toy training config of 20 iterations on the tiny dataset."""
    return write_config(str(tmp_path / 'tiny_toy.py'), TOY_CONFIG, tiny_toy_body(toy_root))


@pytest.fixture(scope='session')
def trained_toy(tmp_path_factory) -> dict:
    """A 20-iteration toy run: its config, work dir and last checkpoint."""
    from langseg.datasets.toy_shapes import generate_toy_shapes
    base = tmp_path_factory.mktemp('trained')
    root = str(base / 'toy')
    generate_toy_shapes(root, progress=False, **TINY_TOY)
    config = write_config(str(base / 'tiny_toy.py'), TOY_CONFIG, tiny_toy_body(root))
    work_dir = str(base / 'work')
    proc = run_tool('train.py', config, '--work-dir', work_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    return dict(config=config, work_dir=work_dir, checkpoint=checkpoint, data_root=root,
                train_log=proc.stdout + proc.stderr)


def _set_num_classes(node, num_classes: int) -> None:
    """Set ``num_classes`` of every head dict in a model config (recursively)."""
    if isinstance(node, dict):
        if 'num_classes' in node:
            node['num_classes'] = num_classes
        for value in node.values():
            _set_num_classes(value, num_classes)
    elif isinstance(node, list):
        for value in node:
            _set_num_classes(value, num_classes)


def toy_version_of(config: str, out_path: str, data_root: str, size: int = 64,
                   max_iters: int = 2, batch_size: int = 2, extra: dict | None = None) -> str:
    """Dump ``config`` retargeted to the tiny toy data: random weights (every
    ``pretrained``/``init_cfg`` checkpoint removed), ``size`` px crops, whole-image
    inference, ``max_iters`` iterations; returns the dumped path."""
    from mmengine.config import Config
    from langseg.datasets.toy_shapes import TOY_CLASSES
    cfg = Config.fromfile(config)

    from langseg.engine.config import strip_pretrained_weights
    model = strip_pretrained_weights(cfg.model.to_dict())
    _set_num_classes(model, len(TOY_CLASSES))
    if 'class_names' in model:  # language-guided models name their classes
        model['class_names'] = 'toy'
    backbone = model.get('backbone', {})
    if 'efficientformer' in str(backbone.get('model_name', '')):
        backbone['img_size'] = size  # its attention biases are sized for the input
    model['data_preprocessor']['size'] = (size, size)
    model['test_cfg'] = dict(mode='whole')
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')]

    def loader(split: str, bs: int, sampler: str) -> dict:
        return dict(batch_size=bs, num_workers=0, persistent_workers=False,
                    sampler=dict(type=sampler, shuffle=sampler == 'InfiniteSampler'),
                    dataset=dict(type='ToyShapesDataset', data_root=data_root,
                                 generate=dict(TINY_TOY),
                                 data_prefix=dict(img_path=f'images/{split}',
                                                  seg_map_path=f'annotations/{split}'),
                                 pipeline=pipeline))

    cfg.model = model
    cfg.train_dataloader = loader('training', batch_size, 'InfiniteSampler')
    cfg.val_dataloader = loader('validation', 1, 'DefaultSampler')
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator = cfg.test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                         val_interval=max_iters)
    cfg.param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0,
                                end=max_iters, by_epoch=False)]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = max_iters
    if extra:
        cfg.merge_from_dict(extra)
    cfg.dump(out_path)
    return out_path


@pytest.fixture(scope='session', autouse=True)
def _share_the_cores() -> None:
    import torch
    torch.set_num_threads(threads_per_test_process())


def pytest_collection_modifyitems(config, items) -> None:
    """The slow tests first (otherwise in collection order): ``make test``'s two workers
    steal queued tests from each other, so a minutes-long test that starts last leaves
    the other worker idle for its length; started first, it runs beside the short ones."""
    items.sort(key=lambda item: item.get_closest_marker('slow') is None)
