"""Config loading and build-error translation shared by the tools."""
from __future__ import annotations

import contextlib
import os.path as osp
import re
from typing import Iterator

from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported)
from mmengine.registry import Registry

from ..utils.errors import ConfigError, did_you_mean, one_line

_NOT_IN_REGISTRY = re.compile(r"(\S+) is not in the (\S+)::(\S+) registry")


def load_config(path: str, cfg_options: dict | None = None) -> Config:
    """Load a config file, merging ``--cfg-options``; one-line errors for bad paths."""
    if not osp.isfile(path):
        raise ConfigError(f'config {path} does not exist: expected the path of a .py config '
                          'file, e.g. configs/toy/fpn_mobilenetv2-tiny_1xb8-1000_toy-96x96.py')
    try:
        cfg = Config.fromfile(path)
    except Exception as exc:  # mmengine raises SyntaxError, ImportError, KeyError, ...
        raise ConfigError(f'config {path} does not parse: {one_line(exc)}') from None
    if cfg_options:  # checked key by key, typed by the values they replace
        from .cfg_options import apply_cfg_options
        apply_cfg_options(cfg, cfg_options, path)
    return cfg


def strip_pretrained_weights(node):
    """Remove every weight reference from a (model) config in place: ``pretrained``
    tags/files become ``None``, timm's ``pretrained=True`` becomes ``False``, and
    ``init_cfg=dict(type='Pretrained', ...)`` is dropped. For random-weight runs (tests,
    benchmarks) where nothing may be downloaded. Returns ``node``."""
    if isinstance(node, dict):
        if 'pretrained' in node and not isinstance(node['pretrained'], bool):
            node['pretrained'] = None
        elif node.get('pretrained') is True:
            node['pretrained'] = False
        if isinstance(node.get('init_cfg'), dict) and \
                node['init_cfg'].get('type') == 'Pretrained':
            node['init_cfg'] = None
        for value in node.values():
            strip_pretrained_weights(value)
    elif isinstance(node, list):
        for value in node:
            strip_pretrained_weights(value)
    return node


def _all_registries() -> list[Registry]:
    import mmengine.registry as engine_registries
    import mmseg.registry as seg_registries
    found = []
    for module in (seg_registries, engine_registries):
        found += [obj for obj in vars(module).values() if isinstance(obj, Registry)]
    return found


def _registered_names(registry: Registry) -> set[str]:
    names: set[str] = set()
    seen = registry
    while seen is not None:  # the registry and its parents, as Registry.get searches them
        names.update(seen.module_dict)
        seen = seen.parent
    return names


def explain_unknown_type(message: str) -> str | None:
    """Turn mmengine's 'X is not in the S::R registry' into a line with close names."""
    found = _NOT_IN_REGISTRY.search(message)
    if not found:
        return None
    name, scope, reg_name = found.groups()
    registry = next((r for r in _all_registries()
                     if r.name == reg_name and r.scope == scope), None)
    hint = '' if registry is None else did_you_mean(
        name, _registered_names(registry), label='closest registered names')
    return (f"unknown type '{name}' in the {scope}::{reg_name} registry (is it spelled "
            f"right, and is its package in custom_imports?){hint}")


@contextlib.contextmanager
def explain_build_errors() -> Iterator[None]:
    """Translate registry look-up failures raised while building into :class:`ConfigError`."""
    try:
        yield
    except KeyError as exc:
        text = explain_unknown_type(str(exc.args[0]) if exc.args else str(exc))
        if text is None:
            raise
        raise ConfigError(text) from None


# Which registry the ``type`` strings under a top-level config key are looked up in, for the
# hint of an unknown type (the check itself accepts a name registered anywhere).
_REGISTRY_OF_KEY = {
    'model': 'model', 'tta_model': 'model', 'train_dataloader': 'dataset',
    'val_dataloader': 'dataset', 'test_dataloader': 'dataset', 'val_evaluator': 'metric',
    'test_evaluator': 'metric', 'default_hooks': 'hook', 'custom_hooks': 'hook',
    'optim_wrapper': 'optim_wrapper', 'param_scheduler': 'parameter scheduler',
    'visualizer': 'visualizer', 'model_wrapper_cfg': 'model_wrapper',
}


def _registry_tree() -> list[Registry]:
    """Every registry reachable from mmengine's roots, with modules imported."""
    import mmengine.registry as engine_registries
    found: list[Registry] = []
    stack = [r for r in vars(engine_registries).values() if isinstance(r, Registry)]
    for registry in _all_registries():
        try:
            registry.import_from_location()
        except Exception:  # an optional package of a location that is not installed
            pass
    while stack:
        registry = stack.pop()
        if registry in found:
            continue
        found.append(registry)
        stack.extend(registry.children.values())
    return found


def _type_strings(node, top_key: str | None = None) -> Iterator[tuple[str, str | None]]:
    if isinstance(node, dict):
        for key, value in node.items():
            key_top = top_key if top_key is not None else key
            if key == 'type' and isinstance(value, str):
                yield value, top_key
            else:
                yield from _type_strings(value, key_top)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _type_strings(item, top_key)


def check_config_types(cfg: Config) -> None:
    """Raise :class:`ConfigError` for a ``type`` registered in no registry.

    Scoped names (``mmdet.X``) are left to the build. The message names the registry the
    position implies and the closest registered names.
    """
    registries = _registry_tree()
    known: set[str] = set()
    for registry in registries:
        known.update(registry.module_dict)
    for name, top_key in _type_strings(cfg.to_dict()):
        if '.' in name or name in known:
            continue
        reg_name = _REGISTRY_OF_KEY.get(top_key or '')
        pool = set()
        for registry in registries:
            if reg_name is None or registry.name == reg_name:
                pool.update(registry.module_dict)
        where = f' in the mmseg::{reg_name} registry' if reg_name else ''
        hint = did_you_mean(name, pool or known, label='closest registered names')
        raise ConfigError(f"unknown type '{name}' under '{top_key}'{where} (is it spelled "
                          f"right, and is its package in custom_imports?){hint}")
