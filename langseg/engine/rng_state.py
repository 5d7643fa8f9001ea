"""Bit-exact resume: the random number generators travel with the checkpoint.

mmengine's resume restores weights, optimiser, schedulers and the message hub, then
re-seeds the generators from the config's seed: the RNG of dropout (and of anything else
drawing random numbers in the main process) restarts from the seed instead of continuing,
so training N iterations and training N/2, stopping and resuming to N give different
weights. :class:`RNGStateHook` stores the states of Python's ``random``, numpy's global
generator, torch's CPU generator and every CUDA generator (where CUDA is initialised) in
the checkpoint under ``'rng_state'`` (tensors and plain containers only: the checkpoint
still loads with ``weights_only=True``), and puts them back where the uninterrupted run
would have them:

* iteration-based training: right before the first batch after resume is fetched, i.e.
  after mmengine has advanced the dataloader past the iterations already trained (that
  advance may draw random numbers in the main process, e.g. with ``num_workers=0``);
* epoch-based training: before the first resumed epoch starts.

Validation does not move the training generators: their states are saved before each
validation and restored after it (a validation dataloader draws a seed when it starts),
so a run validated at the checkpoint's iteration continues as its resumed copy does. A
checkpoint written during validation (``save_best``) stores the state from before it.

``tools/train.py`` adds this hook to every run (:func:`use_rng_state_hook`); a
checkpoint without ``rng_state`` (written by another tool) resumes as mmengine does.
"""
from __future__ import annotations

import random

import numpy as np
import torch
from mmengine.hooks import Hook

from ..registry import HOOKS


def capture_rng_state() -> dict:
    """The states of every generator, as tensors and plain containers."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=dict(version=version, state=list(internal), gauss=gauss),
        numpy=dict(name=str(name), keys=torch.from_numpy(np.asarray(keys, np.int64)),
                   pos=int(pos), has_gauss=int(has_gauss), cached_gaussian=float(cached)),
        torch=torch.get_rng_state(),
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Put back a state of :func:`capture_rng_state`."""
    py = state['python']
    random.setstate((py['version'], tuple(py['state']), py['gauss']))
    npy = state['numpy']
    np.random.set_state((npy['name'], npy['keys'].numpy().astype(np.uint32), npy['pos'],
                         npy['has_gauss'], npy['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        cuda = state['cuda']
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


class _RestoreBeforeNextFetch:
    """Wraps the training loop's dataloader iterator: after ``skip`` fetches (the loop's
    advance past trained iterations) it restores the RNG states, then fetches."""

    def __init__(self, inner, skip: int, state: dict, loop) -> None:
        self._inner, self._skip, self._state, self._loop = inner, skip, state, loop

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip > 0:
            self._skip -= 1
            return next(self._inner)
        restore_rng_state(self._state)
        self._loop.dataloader_iterator = self._inner  # one restore, then out of the way
        return next(self._inner)

    def __getattr__(self, name):
        return getattr(self._inner, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the generators' states in checkpoints and restore them on resume."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: dict | None = None
        self._before_val: dict | None = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = self._before_val or capture_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('rng_state')

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        loop = runner.train_loop
        iterator = getattr(loop, 'dataloader_iterator', None)
        if iterator is not None:  # IterBasedTrainLoop: after its dataloader advance
            loop.dataloader_iterator = _RestoreBeforeNextFetch(iterator, loop.iter, state,
                                                               loop)
        else:
            restore_rng_state(state)

    def before_val(self, runner) -> None:
        loop = getattr(runner, '_train_loop', None)
        if loop is not None and not isinstance(loop, dict):  # validating during training
            self._before_val = capture_rng_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            restore_rng_state(self._before_val)
            self._before_val = None


def use_rng_state_hook(cfg) -> None:
    """Add :class:`RNGStateHook` to the config's ``custom_hooks`` (once)."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(str(h.get('type', '')).rsplit('.', 1)[-1] == 'RNGStateHook'
               for h in hooks if isinstance(h, dict)):
        hooks.append(dict(type='RNGStateHook'))
    cfg.custom_hooks = hooks


__all__ = ['RNGStateHook', 'capture_rng_state', 'restore_rng_state', 'use_rng_state_hook']
