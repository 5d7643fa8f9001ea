"""Key-renaming machinery shared by the converters: ordered (regex, replacement) rules,
every key must be matched by one."""
from __future__ import annotations

import re
from typing import Sequence

import torch

from ..utils.errors import CheckpointError


class ConversionError(CheckpointError):
    """An official checkpoint holds a key no conversion rule places."""


Rule = tuple[str, str]


def rename(key: str, rules: Sequence[Rule]) -> str | None:
    """The new name of ``key`` by the first rule whose pattern matches it fully."""
    for pattern, replacement in rules:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, replacement, key)
    return None


def convert_state_dict(state: dict[str, torch.Tensor], rules: Sequence[Rule], what: str,
                       skip: Sequence[str] = ()) -> dict[str, torch.Tensor]:
    """Rename every key of ``state`` by ``rules``; keys matching a ``skip`` pattern are
    dropped on purpose (buffers langseg recomputes). Refuses the whole file, naming the
    keys, when any key has no rule."""
    out, unplaced = {}, []
    for key, value in state.items():
        if any(re.fullmatch(p, key) for p in skip):
            continue
        new = rename(key, rules)
        if new is None:
            unplaced.append(key)
        elif new in out:
            raise ConversionError(f'{what}: keys map to the same langseg key {new}')
        else:
            out[new] = value
    if unplaced:
        shown = ', '.join(unplaced[:6]) + (f', ... ({len(unplaced)} in all)'
                                          if len(unplaced) > 6 else '')
        raise ConversionError(f'{what}: no conversion rule places the keys {shown}: '
                              'expected an official checkpoint of this method (is it '
                              'another method, or a newer release?)')
    return out
