"""``python -m langseg SCRIPT [ARGS...]``: run a script with langseg imported first.

mmengine reads a config's ``_base_`` before it imports the config's ``custom_imports``, so a
tool that does not import langseg itself (mmseg's tools/train.py and tools/test.py) cannot
read a config that inherits ``langseg::...``. Run through this module it can::

    python -m langseg mmseg::tools/train.py my_config.py --work-dir work_dirs/mine

``mmseg::PATH`` names a file under the installed mmseg's ``.mim`` folder (its shipped
tools); any other SCRIPT is a path. The script runs as ``python SCRIPT ARGS...`` would run
it (``__name__ == '__main__'``, ``sys.argv[0]`` the script, its folder first on sys.path).
"""
from __future__ import annotations

import os.path as osp
import runpy
import sys

import langseg  # noqa: F401  (registers the modules and the ``langseg::`` config scheme)
from langseg.utils.errors import ConfigError, run_cli


def script_path(name: str) -> str:
    """The file of ``name``: ``mmseg::tools/train.py`` or a path."""
    if name.startswith('mmseg::'):
        import mmseg
        path = osp.join(osp.dirname(mmseg.__file__), '.mim', name[len('mmseg::'):])
    else:
        path = name
    if not osp.isfile(path):
        raise ConfigError(f'{name}: no such script ({path}); e.g. python -m langseg '
                          'mmseg::tools/train.py my_config.py')
    return osp.abspath(path)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__.strip())
        return
    script = script_path(argv[0])
    sys.argv = [script, *argv[1:]]
    sys.path[0] = osp.dirname(script)
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    run_cli(main)
