"""Frozen parts that stay in inference mode.

A frozen tower (a CLIP text tower, a vision foundation model) must keep dropout off and
its normalisation statistics fixed even while the model around it trains: ``train()``
switches the module as usual, then puts the children named in ``always_eval`` back into
eval mode. The name ``''`` is the module itself (a training-free model, always in eval
mode).
"""
from __future__ import annotations

from torch import nn


class AlwaysEvalMixin:
    """Mixin for an ``nn.Module`` (list it before the module base class): ``train(mode)``
    keeps the children named in :attr:`always_eval` in eval mode."""

    #: dotted names of the children kept in eval mode ('' for the whole module)
    always_eval: tuple[str, ...] = ()

    def train(self, mode: bool = True):
        super().train(mode)
        for name in self.always_eval:
            if name:
                self.get_submodule(name).eval()
            else:
                nn.Module.train(self, False)
        return self
