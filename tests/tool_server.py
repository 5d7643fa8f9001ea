"""A fork server for the tests' tool runs (``conftest.run_tool``).

A tool run in a fresh interpreter spends about 5 CPU seconds importing torch, mmcv, mmseg,
open_clip and timm before it reads its first argument; the suite runs a few hundred
tools. This server imports them once (per pytest-xdist worker; not langseg, which each
tool imports itself), runs nothing else
(no torch op, so no OpenMP thread pool exists when it forks), and forks one child per
request. The child is the tool's process as ``python tools/<tool>.py ARGS`` would be, as
far as the tool can tell: its own pid and process group, the requested working directory,
environment, ``sys.argv`` and ``sys.path[0]``, stdin from /dev/null, stdout and stderr on
the requested files (so the tool's own subprocesses write there too), the script run as
``__main__`` (after what the server's imports printed, if anything) and the interpreter's
exit (``SystemExit`` codes, a traceback and 1 on an uncaught exception, thread joins,
atexit handlers, flushed output; not the teardown of every imported module, which costs
1.5 s here).

``conftest.run_tool`` uses it only when the requested environment equals the one the
server started with (anything read at import time is then what a fresh process would
read); otherwise, or with ``LANGSEG_TEST_FORK_SERVER=0``, or if the server is gone, it
starts a fresh interpreter as before.

Protocol, one JSON object per line: the client sends ``{"argv": [...], "cwd": ...,
"stdout": path, "stderr": path, "per_run_env": {...}}`` (variables such as
``PYTEST_CURRENT_TEST`` that change from test to test and are read by no import); the
server answers ``{"pid": N}`` at the fork and ``{"returncode": R}`` when the child has
exited (negative: killed by that signal).
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import types

#: The third-party imports of the tools (mmseg/mmcv are most of a tool's start). langseg is
#: not among them: each tool imports it itself, in the child, as in a fresh interpreter, so
#: a tool that forgot an import (a registration) fails here as it would for a user.
PRELOAD = ('torch', 'torchvision', 'numpy', 'cv2', 'mmengine', 'mmengine.runner', 'mmcv',
           'mmcv.ops', 'mmseg', 'mmseg.models', 'mmseg.apis', 'open_clip', 'timm',
           'fvcore.nn', 'mmseg.datasets')


def _preload() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # a module that fails here fails the same way in the tool
            pass


def _serve() -> dict | None:
    """The server loop; returns the request in a forked child, ``None`` at end of input."""
    requests = os.fdopen(os.dup(0), 'r')
    answers = os.fdopen(os.dup(1), 'w')
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    # what the imports print (import-time warnings, say) is printed again by every child,
    # as a fresh interpreter's imports would print it
    printed = {}
    saved_stderr = os.dup(2)
    for fd in (1, 2):
        capture = tempfile.TemporaryFile()
        os.dup2(capture.fileno(), fd)
        printed[fd] = capture
    _preload()
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(devnull, 1)
    os.dup2(saved_stderr, 2)
    for fd, capture in printed.items():
        capture.seek(0)
        printed[fd] = capture.read()
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            requests.close()
            answers.close()
            request['printed'] = printed
            return request
        answers.write(json.dumps(dict(pid=pid)) + '\n')
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps(dict(returncode=os.waitstatus_to_exitcode(status))) + '\n')
        answers.flush()
    return None


def _become_tool(request: dict) -> None:
    """In the child: set the process up as the tool's own and run it as ``__main__``:
    ``argv`` is what follows ``python`` on a command line (a script path, ``-c CODE`` or
    ``-m MODULE``, then the arguments), with ``sys.argv`` and ``sys.path[0]`` as the
    interpreter sets them for each form."""
    import runpy
    os.setpgrp()
    for fd, path in ((1, request['stdout']), (2, request['stderr'])):
        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, fd)
        os.close(out)
        os.write(fd, request['printed'][fd])
    os.chdir(request['cwd'])
    for key, value in request['per_run_env'].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    first, *rest = request['argv']
    if first == '-c':
        code, *args = rest
        sys.argv, sys.path[0] = ['-c', *args], ''
        main = types.ModuleType('__main__')
        sys.modules['__main__'] = main
        exec(compile(code, '<string>', 'exec'), main.__dict__)
    elif first == '-m':
        module, *args = rest
        sys.argv, sys.path[0] = [module, *args], os.getcwd()
        runpy.run_module(module, run_name='__main__', alter_sys=True)
    else:
        sys.argv, sys.path[0] = [first, *rest], os.path.dirname(os.path.abspath(first))
        runpy.run_path(first, run_name='__main__')

def _exit_code(exc: BaseException | None) -> int:
    """The interpreter's exit status for how the program ended (printing what it prints:
    a ``SystemExit`` message, or the traceback of an uncaught exception)."""
    if exc is None:
        return 0
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code & 0xFF
        print(code, file=sys.stderr)
        return 1
    sys.excepthook(type(exc), exc, exc.__traceback__)
    return 1


def _exit(code: int) -> None:
    """The interpreter's exit as a program can observe it (non-daemon threads joined,
    atexit handlers, which stop multiprocessing's children and flush logging, then stdio
    flushed), without the module teardown and final collection of everything imported
    (1.5 s for this stack, more than the rest of a short tool run)."""
    import atexit
    import threading
    shutdown = getattr(threading, '_shutdown', None)
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == '__main__':
    child_request = _serve()
    if child_request is not None:
        try:
            _become_tool(child_request)
            ended = None
        except BaseException as exc:  # noqa: B902  (the interpreter's top level)
            ended = exc
        _exit(_exit_code(ended))
