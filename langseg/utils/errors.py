"""User-facing errors and the one-line error convention of langseg's tools.

Every mistake a user can make with their inputs (a config, a data root, a checkpoint, an
image) raises :class:`LangsegError` (or a subclass) with a message of the form
``<what was wrong>: <what was expected>``. The tools catch these, print the message on one
line and exit with status 2; any other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

import difflib
import os
import re
import sys
from typing import Callable, Iterable


class LangsegError(Exception):
    """An error caused by user input; its message is shown as one line, no traceback."""


class ConfigError(LangsegError):
    """A config that does not exist, does not parse, or names something unknown."""


class DataError(LangsegError):
    """A data root or a data file that is missing, empty or unreadable."""


class CheckpointError(LangsegError):
    """A checkpoint that is missing, not a checkpoint, unsafe, or for another model."""


def did_you_mean(name: object, choices: Iterable[object], n: int = 5, cutoff: float = 0.5,
                 label: str = 'closest') -> str:
    """The hint ``'; closest: a, b'`` naming the (at most ``n``) ``choices`` closest to
    ``name`` (``difflib.get_close_matches`` with ``cutoff``), or ``''`` when none is close:
    appended to the one-line message of an unknown name."""
    close = difflib.get_close_matches(str(name), sorted({str(c) for c in choices}), n=n,
                                      cutoff=cutoff)
    return f'; {label}: {", ".join(close)}' if close else ''


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` as one line.

    Exceptions re-raised by a DataLoader worker carry the worker's whole traceback in their
    message ("Caught X in DataLoader worker process 0 ... Original Traceback ..."); the
    original message is its last line, prefixed by the exception's qualified name.
    """
    text = str(exc).strip()
    if text.startswith('Caught ') and 'Original Traceback' in text:
        last = text.splitlines()[-1].strip()
        text = re.sub(r'^[\w.]+(Error|Exception): ', '', last)
    return ' '.join(text.split())


def run_cli(main: Callable[[], int | None]) -> None:
    """Run a tool's ``main``: user errors print ``error: ...`` and exit 2.

    Set ``LANGSEG_DEBUG=1`` to see the traceback of a user error as well.
    """
    try:
        code = main()
    except LangsegError as exc:
        if os.environ.get('LANGSEG_DEBUG'):
            raise
        print(f'error: {one_line(exc)}', file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
