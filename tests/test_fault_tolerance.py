"""Checkpoints, work dirs and resume under faults (full disk, read-only folder, a write that
fails at byte N, a stop and resume), through tools/train.py and the runner it builds."""
from __future__ import annotations

import errno
import os
import os.path as osp
import subprocess

import pytest
import torch

from .conftest import TOY_CONFIG, run_tool, tiny_toy_body, write_config


def _tiny(tmp_path, toy_root, max_iters=4, val_interval=4, ckpt_interval=2) -> str:
    return write_config(str(tmp_path / 'tiny.py'), TOY_CONFIG,
                        tiny_toy_body(toy_root, max_iters, val_interval, ckpt_interval))


def _weights(path: str) -> dict:
    from langseg.utils.state_dict import load_checkpoint_file
    return load_checkpoint_file(path)['state_dict']


def _error_line(proc) -> str:
    lines = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    return lines[0]


def _tmp_files(folder) -> list[str]:
    return [n for n in os.listdir(folder) if '.tmp-' in n]


# ----------------------------------------------------------------- atomic writes
def test_atomic_write_keeps_the_old_file_when_the_write_fails_at_byte_n(tmp_path, monkeypatch):
    from langseg.engine import atomic_io
    target = tmp_path / 'result.json'
    target.write_text('old')

    class FailingFile:
        """A file object whose writes fail with ENOSPC once N bytes went in."""

        def __init__(self, path, mode, limit=5):
            self.inner, self.limit, self.written = open(path, mode), limit, 0

        def write(self, data):
            if self.written + len(data) > self.limit:
                self.inner.write(data[:self.limit - self.written])
                raise OSError(errno.ENOSPC, 'No space left on device')
            self.written += len(data)
            return self.inner.write(data)

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.inner.close()

    monkeypatch.setattr(atomic_io, '_open', FailingFile)
    with pytest.raises(OSError):
        atomic_io.atomic_write(target, b'new content, longer than five bytes')
    assert target.read_text() == 'old'
    assert _tmp_files(tmp_path) == []
    monkeypatch.undo()
    atomic_io.atomic_write_json(target, {'a': 1})
    assert target.read_text() == '{"a": 1}'


def test_runner_checkpoint_failing_mid_write_stops_cleanly(tmp_path, toy_root, monkeypatch):
    """F6 by fault injection: the write of iter_4.pth fails after 100 kB. mmengine wrote it
    in place (a truncated iter_4.pth was left); now no iter_4.pth exists, no temp file is
    left, last_checkpoint names iter_2.pth, which loads, and the error names both."""
    from langseg.engine import atomic_io
    from langseg.engine.train import train
    from langseg.engine.work_dir import WorkDirError
    real_open = open

    def failing_open(path, mode='r', *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        if 'iter_4.pth' not in str(path):
            return f
        original_write = f.write

        def write(data):
            if f.tell() + len(data) > 100_000:
                original_write(bytes(data)[:100_000 - f.tell()])
                raise OSError(errno.ENOSPC, 'No space left on device')
            return original_write(data)

        f.write = write
        return f

    monkeypatch.setattr(atomic_io, '_open', failing_open)
    work = tmp_path / 'work'
    with pytest.raises(WorkDirError) as info:
        train(_tiny(tmp_path, toy_root), work_dir=str(work))
    message = str(info.value)
    assert 'iter_4.pth' in message and 'iter_2.pth' in message and 'No space' in message
    assert not (work / 'iter_4.pth').exists()
    assert _tmp_files(work) == []
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    assert len(_weights(str(work / 'iter_2.pth'))) > 100


def test_outdated_checkpoints_are_removed_after_the_new_one_is_complete(tmp_path, toy_root):
    from langseg.engine.train import train
    config = write_config(str(tmp_path / 'keep1.py'), _tiny(tmp_path, toy_root),
                          'default_hooks = dict(checkpoint=dict(max_keep_ckpts=1))\n')
    work = tmp_path / 'work'
    train(config, work_dir=str(work))
    assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == ['iter_4.pth']
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_4.pth')


# ------------------------------------------------------- bit-exact resume (F7)
def test_resume_is_bit_exact_with_dropout(tmp_path, toy_root):
    """Train 8 iterations (dropout 0.1 in the head, validation at 4 and 8); resume a copy of
    the iteration-4 checkpoint to 8: every weight equal. Before the RNG states travelled
    with the checkpoint, 308 of 366 tensors differed."""
    config = _tiny(tmp_path, toy_root, max_iters=8, val_interval=4, ckpt_interval=4)
    full, resumed = tmp_path / 'full', tmp_path / 'resumed'
    proc = run_tool('train.py', config, '--work-dir', str(full))
    assert proc.returncode == 0, proc.stderr[-3000:]
    resumed.mkdir()
    (resumed / 'iter_4.pth').write_bytes((full / 'iter_4.pth').read_bytes())
    (resumed / 'last_checkpoint').write_text(str(resumed / 'iter_4.pth'))
    proc = run_tool('train.py', config, '--work-dir', str(resumed), '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = _weights(str(full / 'iter_8.pth')), _weights(str(resumed / 'iter_8.pth'))
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert differ == []
    assert not torch.equal(a['decode_head.conv_seg.weight'],
                           _weights(str(full / 'iter_4.pth'))['decode_head.conv_seg.weight'])


def test_rng_state_round_trip_and_weights_only_checkpoint(tmp_path):
    import random

    import numpy as np

    from langseg.engine.rng_state import capture_rng_state, restore_rng_state
    from langseg.utils.state_dict import load_checkpoint_file
    state = capture_rng_state()
    torch.save({'rng_state': state}, tmp_path / 'c.pth')
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(load_checkpoint_file(str(tmp_path / 'c.pth'))['rng_state'])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


# ---------------------------------------------------- full / read-only work dir
def _mount(args: list[str]) -> bool:
    return subprocess.run(['mount', *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of a given size (needs root or CAP_SYS_ADMIN, as the probes used)."""
    mounted = []

    def make(size: str) -> str:
        path = tmp_path / f'disk{len(mounted)}'
        path.mkdir()
        if not _mount(['-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(path)]):
            pytest.skip('mounting a tmpfs needs root or CAP_SYS_ADMIN; the fault-injection '
                        'tests above cover the same code paths without it')
        mounted.append(path)
        return str(path)

    yield make
    for path in reversed(mounted):
        subprocess.run(['umount', '-l', str(path)], capture_output=True)


def test_full_work_dir_refused_before_training(tmp_path, toy_root, small_disk):
    """F5: a 3 MB work dir (a checkpoint of the toy model is 11 MB) gave an OSError
    traceback after a truncated iter_2.pth was written; now one line, nothing left."""
    disk = small_disk('3M')
    proc = run_tool('train.py', _tiny(tmp_path, toy_root), '--work-dir', f'{disk}/run')
    line = _error_line(proc)
    assert f'{disk}/run' in line and 'MiB free' in line and 'needs about' in line
    assert not osp.exists(f'{disk}/run')


def test_disk_filling_mid_run_keeps_the_last_complete_checkpoint(tmp_path, toy_root,
                                                                 small_disk):
    disk = small_disk('16M')  # room for one 11 MB checkpoint, not two
    work = f'{disk}/run'
    proc = run_tool('train.py', _tiny(tmp_path, toy_root), '--work-dir', work)
    line = _error_line(proc)
    assert 'iter_4.pth' in line and f'{work}/iter_2.pth' in line and '--resume' in line
    assert not osp.exists(f'{work}/iter_4.pth') and _tmp_files(work) == []
    with open(f'{work}/last_checkpoint') as f:
        assert f.read() == f'{work}/iter_2.pth'
    assert len(_weights(f'{work}/iter_2.pth')) > 100


def test_read_only_work_dir_gives_one_line(tmp_path, toy_root, small_disk):
    disk = small_disk('1M')
    assert _mount(['-o', 'remount,ro', disk])
    proc = run_tool('train.py', _tiny(tmp_path, toy_root), '--work-dir', f'{disk}/run')
    line = _error_line(proc)
    assert f'{disk}/run' in line and 'Read-only file system' in line


def test_refused_start_leaves_no_log_folder(tmp_path, toy_root, monkeypatch):
    """M3: a check after the runner is built (here: free space) removes the timestamped
    log folder and config dump the runner wrote."""
    from langseg.engine import work_dir as wd
    from langseg.engine.train import build_train_runner
    monkeypatch.setattr(wd, '_disk_free', lambda path: 2**20)
    work = tmp_path / 'work'
    with pytest.raises(wd.WorkDirError, match='1.0 MiB free'):
        build_train_runner(_tiny(tmp_path, toy_root), work_dir=str(work))
    assert not work.exists()


def test_unsafe_or_truncated_resume_checkpoint_refused_before_the_runner_writes(tmp_path,
                                                                                toy_root):
    """M3: the resume checkpoint was read after the runner had written its log folder."""
    from langseg.engine.train import build_train_runner
    from langseg.utils.errors import CheckpointError
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'iter_2.pth').write_bytes(b'PK\x03\x04 truncated')
    (work / 'last_checkpoint').write_text(str(work / 'iter_2.pth'))
    with pytest.raises(CheckpointError, match='iter_2.pth'):
        build_train_runner(_tiny(tmp_path, toy_root), work_dir=str(work), resume=True)
    assert sorted(os.listdir(work)) == ['iter_2.pth', 'last_checkpoint']
