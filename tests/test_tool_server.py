"""The tests' tool server (tests/tool_server.py) runs a program as a fresh interpreter
would: the same argv, sys.path[0], working directory, exit codes, output and
tracebacks, for scripts, ``-c`` and ``-m``; the fresh interpreter is the reference."""
from __future__ import annotations

import os.path as osp

import pytest

from .conftest import REPO, run_python, tool_env

PROBE = r'''
import json, os, sys
print(json.dumps(dict(argv=sys.argv, path0=sys.path[0], cwd=os.getcwd(),
                      main=__name__,
                      langseg_loaded='langseg' in sys.modules,
                      omp=os.environ.get('OMP_NUM_THREADS'))))
sys.stdout.flush()
print('to stderr', file=sys.stderr)
code = sys.argv[-1]
if code == 'raise':
    raise RuntimeError('boom')
if code == 'message':
    sys.exit('a message')
sys.exit(int(code))
'''


def _both(args: list[str], tmp_path) -> tuple:
    forked = run_python(args, cwd=str(tmp_path))
    fresh = run_python(args, cwd=str(tmp_path), env=tool_env())  # another env: fresh
    return forked, fresh


def _normalise(text: str) -> list[str]:
    """Traceback lines without the frames of the runner (runpy, the server)."""
    return [line for line in text.splitlines()
            if 'tool_server.py' not in line and 'runpy' not in line
            and not line.strip().startswith(('runpy.', '_become_tool(', 'exec(', '^'))]


@pytest.mark.parametrize('ending', ['0', '3', 'raise', 'message'])
def test_a_script_runs_as_in_a_fresh_interpreter(ending, tmp_path):
    script = tmp_path / 'probe.py'
    script.write_text(PROBE)
    forked, fresh = _both([str(script), 'an arg', ending], tmp_path)
    assert forked.returncode == fresh.returncode
    assert forked.stdout == fresh.stdout
    assert _normalise(forked.stderr)[-2:] == _normalise(fresh.stderr)[-2:]
    assert 'to stderr' in forked.stderr
    if ending == 'raise':
        assert forked.returncode == 1 and 'RuntimeError: boom' in forked.stderr
    if ending == 'message':
        assert forked.returncode == 1 and forked.stderr.strip().endswith('a message')


def test_c_and_m_run_as_in_a_fresh_interpreter(tmp_path):
    forked, fresh = _both(['-c', PROBE, 'x', '5'], tmp_path)
    assert (forked.returncode, forked.stdout) == (fresh.returncode, fresh.stdout) == (
        5, fresh.stdout)
    assert '"argv": ["-c", "x", "5"]' in forked.stdout and '"path0": ""' in forked.stdout
    (tmp_path / 'probe_module.py').write_text(PROBE)
    forked, fresh = _both(['-m', 'probe_module', '2'], tmp_path)
    assert forked.returncode == fresh.returncode == 2
    assert forked.stdout == fresh.stdout
    assert '"langseg_loaded": false' in forked.stdout  # each program imports langseg itself


def test_a_tool_error_is_the_same_line_and_code(tmp_path):
    tool = osp.join(REPO, 'tools', 'train.py')
    forked, fresh = _both([tool, str(tmp_path / 'missing.py')], tmp_path)
    assert forked.returncode == fresh.returncode == 2
    assert forked.stderr == fresh.stderr and forked.stdout == fresh.stdout


def test_the_default_environment_forks_from_the_server_and_another_starts_fresh(
        tmp_path, monkeypatch):
    import os
    if os.environ.get('LANGSEG_TEST_FORK_SERVER', '1') == '0':
        pytest.skip('the tool server is switched off (LANGSEG_TEST_FORK_SERVER=0)')
    code = ['-c', 'import os; print(os.getppid(), os.environ["PYTEST_CURRENT_TEST"])']
    forked, fresh = _both(code, tmp_path)
    assert int(fresh.stdout.split()[0]) == os.getpid()
    server = int(forked.stdout.split()[0])
    assert server != os.getpid()  # the server's child
    # a variable that changes from test to test reaches the child and keeps the server
    monkeypatch.setenv('PYTEST_CURRENT_TEST', 'another test (call)')
    again = run_python(code, cwd=str(tmp_path))
    assert again.stdout.split(maxsplit=1) == [str(server), 'another test (call)\n']
