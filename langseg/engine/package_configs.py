"""``langseg::`` config inheritance from an installed langseg, as with mmseg's ``mmseg::``.

A config in a user's own project can write
``_base_ = 'langseg::proxyclip/proxyclip_vit-b16-dino-b8_voc21.py'``: the configs ship inside
the package, under ``langseg/.mim/configs`` (the layout mmseg and the other OpenMMLab
packages use; in the repository it is a link to ``configs/``, in a wheel the files
themselves). mmengine 0.10.7 resolves ``pkg::path`` only for the OpenMMLab packages of its
fixed ``MODULE2PACKAGE`` table, looks them up with ``get_installed_path``, which points an
editable (PEP 660) install at a site-packages folder that does not exist, and tags every
inherited dict with ``_scope_ = 'pkg'`` (langseg registers into mmseg's scope, so that tag
would send the runner's builders to a scope no registry has). So ``import langseg`` wraps
``Config._get_cfg_path``: a ``langseg::`` path resolves against the configs of the imported
langseg package, with no scope tag; every other path goes to mmengine unchanged.

mmengine reads ``_base_`` before it imports a config's ``custom_imports``: langseg has to
be imported before the config is read. langseg's tools and Python APIs do that; a script
of one's own does it with ``import langseg`` before ``Config.fromfile``; mmseg's own tools
run through ``python -m langseg <mmseg tool> ...`` (see docs/getting_started.md).
"""
from __future__ import annotations

import difflib
import glob
import os.path as osp

from mmengine.config import Config

from ..utils.errors import ConfigError

PREFIX = 'langseg::'


def package_config_dir() -> str:
    """The folder of the configs that ship with this langseg (``langseg/.mim/configs``)."""
    return osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim', 'configs')


def resolve_package_config(name: str) -> str:
    """Path of ``langseg::<name>`` (e.g. ``proxyclip/proxyclip_vit-b16-dino-b8_voc21.py``).

    Raises :class:`ConfigError` (one line, with close names) when no such config ships."""
    root = package_config_dir()
    rel = name[len(PREFIX):] if name.startswith(PREFIX) else name
    path = osp.normpath(osp.join(root, rel))
    if osp.isfile(path) and path.startswith(osp.normpath(root) + osp.sep):
        return path
    if not osp.isdir(root):
        raise ConfigError(f'{PREFIX}{rel}: this langseg has no packaged configs ({root} is '
                          'missing); reinstall langseg')
    shipped = sorted(osp.relpath(p, root) for p in
                     glob.glob(osp.join(root, '**', '*.py'), recursive=True))
    close = difflib.get_close_matches(rel, shipped, n=3, cutoff=0.5)
    hint = f'; close names: {", ".join(close)}' if close else \
        '; names are paths under configs/ of the repository, e.g. toy/fpn_mobilenetv2-tiny_1xb8-1000_toy-96x96.py'
    raise ConfigError(f'{PREFIX}{rel} is not a config that ships with langseg ({root}){hint}')


def install_config_scheme() -> None:
    """Make ``_base_ = 'langseg::<path>'`` resolve in mmengine's ``Config`` (idempotent)."""
    current = Config.__dict__['_get_cfg_path'].__func__
    if getattr(current, '_langseg_scheme', False):
        return

    def _get_cfg_path(cfg_path: str, filename: str):
        if isinstance(cfg_path, str) and cfg_path.startswith(PREFIX):
            return resolve_package_config(cfg_path), None  # no `_scope_` tag: scope mmseg
        return current(cfg_path, filename)

    _get_cfg_path._langseg_scheme = True  # type: ignore[attr-defined]
    _get_cfg_path.__doc__ = current.__doc__
    Config._get_cfg_path = staticmethod(_get_cfg_path)
