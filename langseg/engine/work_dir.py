"""The work dir under faults: checked before training, checkpoints that are whole or absent,
and a failed start that leaves nothing behind.

* :func:`check_work_dir_writable` (before the runner is built): the work dir can be created
  and written, else one :class:`WorkDirError` naming the folder (a read-only file system, a
  folder that is a file, no permission).
* :func:`check_work_dir_space` (after the runner is built, before training): the free space
  of the work dir's file system must hold one more checkpoint, estimated from the model's
  weights and the optimiser's state (``(1 + k) x`` the weight bytes, ``k`` = 2 for
  Adam/AdamW, 1 for SGD with momentum, 2 for anything else), plus 10 % and 1 MiB for logs.
  Else one :class:`WorkDirError` with the folder, the space it needs and the space it has.
* :class:`AtomicCheckpointHook`: mmengine's ``CheckpointHook`` with its local checkpoints
  and ``last_checkpoint`` written atomically (:mod:`langseg.engine.atomic_io`), and the
  outdated checkpoints (``max_keep_ckpts``) removed only after the new one is complete
  (mmengine removes them first, so a failed save with ``max_keep_ckpts=1`` left none). A
  save that fails for lack of space or permission stops training with one
  :class:`WorkDirError` naming the checkpoint that could not be written and the last
  complete one (``--resume`` continues from it). :func:`use_atomic_checkpoints` makes the
  config's ``CheckpointHook`` this hook (``tools/train.py`` does it for every config).
* :func:`discard_failed_start`: when a check after the runner was built refuses the run,
  the runner's timestamped log folder and the config dump it wrote are removed (an empty
  work dir the run created too), so a refused start leaves nothing behind.
* :func:`partial_dir` / :func:`publish_partial`: ``tools/test.py --out DIR`` writes its
  predictions to a partial folder next to ``DIR`` and moves them into ``DIR`` only when the
  whole evaluation succeeded.
"""
from __future__ import annotations

import errno
import logging
import os
import os.path as osp
import shutil

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from ..registry import HOOKS
from ..utils.errors import LangsegError
from .atomic_io import atomic_write, register_atomic_backend, temp_path_for

#: errno values that mean "this folder cannot take the file": reported as a WorkDirError.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


class WorkDirError(LangsegError):
    """A work dir that cannot be written, or has too little free space."""


def _mib(num_bytes: float) -> str:
    return f'{num_bytes / 2**20:.1f} MiB'


def _disk_free(path: str) -> int:
    """Free bytes for an unprivileged writer on ``path``'s file system (a seam for tests)."""
    return shutil.disk_usage(path).free


def _existing_parent(path: str) -> str:
    path = osp.abspath(path)
    while not osp.exists(path):
        parent = osp.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def check_work_dir_writable(work_dir: str) -> None:
    """Create ``work_dir`` if needed and write (then remove) a probe file in it."""
    where = osp.abspath(work_dir)
    try:
        os.makedirs(where, exist_ok=True)
        probe = temp_path_for(osp.join(where, 'write-check'))
        atomic_write(probe, b'langseg')
        os.remove(probe)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise WorkDirError(f'work dir {where} cannot be written ({reason}): expected a '
                           'writable folder with room for the checkpoints; pass --work-dir '
                           'DIR on a writable disk') from None


def optimizer_state_factor(cfg) -> int:
    """Tensors of optimiser state per weight tensor (see the module docstring)."""
    wrapper = cfg.get('optim_wrapper') or {}
    optimizer = wrapper.get('optimizer') or {}
    name = str(optimizer.get('type', '')).rsplit('.', 1)[-1]
    if name == 'SGD':
        return 1 if optimizer.get('momentum', 0) else 0
    return 2  # Adam, AdamW and anything unknown: two moments


def estimate_checkpoint_bytes(model: torch.nn.Module, state_factor: int) -> int:
    """Bytes of a checkpoint of ``model``: weights and buffers, plus ``state_factor`` x the
    trainable weights for the optimiser."""
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values()
                  if isinstance(t, torch.Tensor))
    trainable = sum(p.numel() * p.element_size() for p in model.parameters()
                    if p.requires_grad)
    return int(weights + state_factor * trainable)


def check_work_dir_space(work_dir: str, needed: int) -> None:
    """Raise :class:`WorkDirError` unless ``work_dir`` has ``needed`` bytes free."""
    free = _disk_free(_existing_parent(work_dir))
    if free < needed:
        raise WorkDirError(
            f'work dir {osp.abspath(work_dir)} has {_mib(free)} free: a checkpoint of this '
            f'model needs about {_mib(needed)} (weights and optimiser state, plus logs); '
            'free some space or pass --work-dir DIR on a larger disk')


def space_needed(runner) -> int:
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    checkpoint = estimate_checkpoint_bytes(model, optimizer_state_factor(runner.cfg))
    return int(checkpoint * 1.1) + 2**20


def use_atomic_checkpoints(cfg) -> None:
    """Make the config's ``default_hooks.checkpoint`` an :class:`AtomicCheckpointHook`
    (an mmengine ``CheckpointHook`` keeps all its settings)."""
    hooks = cfg.get('default_hooks') or {}
    hook = hooks.get('checkpoint')
    if isinstance(hook, dict) and str(hook.get('type', '')).rsplit('.', 1)[-1] in (
            'CheckpointHook', 'AtomicCheckpointHook'):
        hook['type'] = 'AtomicCheckpointHook'


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` writing whole files only (see the module docstring)."""

    def before_train(self, runner) -> None:
        if self.backend_args is None and self.file_client_args is None and \
                '://' not in str(self.out_dir or runner.work_dir):
            self.backend_args = dict(backend=register_atomic_backend())
        super().before_train(runner)

    def _save_checkpoint_with_step(self, runner, step, meta):
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        previous = runner.message_hub.get_info('last_ckpt')
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        try:
            runner.save_checkpoint(
                self.out_dir, ckpt_filename, self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler, meta=meta,
                by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
            if is_main_process():
                atomic_write(osp.join(runner.work_dir, 'last_checkpoint'),
                             str(self.last_ckpt))
        except OSError as exc:
            if exc.errno not in _NO_ROOM:
                raise
            kept = previous or 'none (no checkpoint was complete yet)'
            raise WorkDirError(
                f'cannot write checkpoint {self.last_ckpt} ({os.strerror(exc.errno)}): '
                f'training stopped at iteration {runner.iter + 1}; the last complete '
                f'checkpoint is {kept} (free some space, then run again with --resume); '
                f'expected room for about {_mib(space_needed(runner))} in '
                f'{osp.abspath(self.out_dir)}') from None

        if outdated is not None and is_main_process():
            path = self.file_backend.join_path(self.out_dir,
                                               self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # checkpoints saved by deepspeed
                self.file_backend.rmtree(path)


def no_room_error(exc: OSError, runner) -> WorkDirError | None:
    """A :class:`WorkDirError` for an ``OSError`` of a full or read-only disk met while
    training (a log or metrics file), naming the last complete checkpoint; else ``None``."""
    if getattr(exc, 'errno', None) not in _NO_ROOM:
        return None
    from mmengine.runner.checkpoint import find_latest_checkpoint
    try:
        kept = find_latest_checkpoint(runner.work_dir) or 'none'
    except OSError:
        kept = 'unknown'
    where = getattr(exc, 'filename', None) or runner.work_dir
    return WorkDirError(f'cannot write {where} ({os.strerror(exc.errno)}): training stopped; '
                        f'the last complete checkpoint is {kept} (free some space, then run '
                        'again with --resume)')


def _close_file_handlers(log_dir: str) -> None:
    from mmengine.logging import MMLogger
    for logger in list(MMLogger._instance_dict.values()):
        for handler in list(logger.handlers):
            if isinstance(handler, logging.FileHandler) and \
                    osp.abspath(handler.baseFilename).startswith(osp.abspath(log_dir)):
                handler.close()
                logger.removeHandler(handler)


class StartRecord:
    """What the work dir held before the runner was built (see :func:`discard_failed_start`)."""

    def __init__(self, work_dir: str, config_path: str | None) -> None:
        self.work_dir = osp.abspath(work_dir)
        self.existed = osp.isdir(self.work_dir)
        self.config_dump = osp.join(self.work_dir, osp.basename(config_path)) \
            if config_path else None
        self.dump_existed = bool(self.config_dump and osp.exists(self.config_dump))


def discard_failed_start(runner, record: StartRecord) -> None:
    """Remove what building ``runner`` wrote: its log folder, a config dump that was not
    there before, and the work dir if the run created it and it is now empty."""
    if not is_main_process():
        return
    log_dir = getattr(runner, 'log_dir', None)
    if log_dir and osp.isdir(log_dir):
        _close_file_handlers(log_dir)
        shutil.rmtree(log_dir, ignore_errors=True)
    if record.config_dump and not record.dump_existed and osp.isfile(record.config_dump):
        os.remove(record.config_dump)
    if not record.existed and osp.isdir(record.work_dir) and not os.listdir(record.work_dir):
        os.rmdir(record.work_dir)


def default_work_dir(cfg, config_path: str, work_dir: str | None) -> str:
    """``--work-dir``, else the config's ``work_dir``, else ``./work_dirs/<config name>``
    (as mmseg 1.x's tools)."""
    if work_dir is not None:
        return work_dir
    if cfg.get('work_dir') is not None:
        return cfg.work_dir
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def partial_dir(out: str) -> str:
    """The folder ``--out DIR`` is written to before the run has succeeded."""
    return f'{osp.abspath(out)}.partial-{os.getpid()}'


def publish_partial(partial: str, out: str) -> None:
    """Move the files of a finished run from ``partial`` into ``out``."""
    if not osp.isdir(partial):
        return
    if not osp.isdir(out):
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        os.replace(partial, out)
        return
    for name in os.listdir(partial):
        os.replace(osp.join(partial, name), osp.join(out, name))
    shutil.rmtree(partial, ignore_errors=True)


__all__ = ['AtomicCheckpointHook', 'StartRecord', 'WorkDirError', 'check_work_dir_space',
           'check_work_dir_writable', 'default_work_dir', 'discard_failed_start',
           'estimate_checkpoint_bytes', 'no_room_error', 'partial_dir', 'publish_partial',
           'space_needed', 'use_atomic_checkpoints']
