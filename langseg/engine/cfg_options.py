"""``--cfg-options KEY=VALUE ...``: parsed as written and checked against the config.

mmengine's ``DictAction`` removes every space from a value (``data_root=/data/my data``
became ``/data/mydata``), accepts any key (a misspelt ``train_cfg.max_itres`` surfaces as a
``TypeError`` deep in the runner, an unknown top-level key is silently ignored) and raises
tracebacks on malformed values. Here:

* :class:`CfgOptionsAction` (the tools' ``--cfg-options``) splits each item at its first
  ``=`` and keeps the value's text as written (:class:`RawValue`); an item without ``=``,
  with an empty key or with unbalanced brackets/quotes is a :class:`ConfigError`.
* :func:`apply_cfg_options` (called by :func:`langseg.engine.config.load_config`) checks
  every key against the config before merging: each dotted part must exist, or be a
  parameter of the class the enclosing ``type`` names (its ``__init__`` and, through
  ``**kwargs``, its bases'), or a runner setting at the top level; else the error names
  the closest existing keys (``difflib``). A raw value is typed by the value it replaces:
  a string setting takes the text as is (spaces, digits and all), a number setting must
  parse as one (``abc`` for an int is an error), a bool takes ``True``/``False``, a
  list/tuple setting takes ``[a, b]`` / ``(a, b)`` / ``a,b``; a new key takes Python
  literals (numbers, ``True``/``False``/``None``, lists, tuples, quoted strings), else the
  text. A few settings must also make sense: batch sizes and iteration counts are positive
  integers, ``num_workers`` is not negative, learning rates are not negative.

All errors are one line, raised before anything is built or written.
"""
from __future__ import annotations

import argparse
import inspect
from typing import Any

from mmengine.config import Config

from ..utils.errors import ConfigError, did_you_mean

_OPEN, _CLOSE = '([{', ')]}'


class RawValue(str):
    """A ``--cfg-options`` value as the user wrote it (typed when applied)."""


class CfgOptions(dict):
    """``{dotted key: RawValue}`` from the command line, in the order given."""


def _check_balanced(text: str, item: str) -> None:
    stack, quote = [], None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in '\'"':
            quote = ch
        elif ch in _OPEN:
            stack.append(_CLOSE[_OPEN.index(ch)])
        elif ch in _CLOSE:
            if not stack or stack.pop() != ch:
                raise ConfigError(f'--cfg-options {item!r}: unbalanced brackets in the value: '
                                  "expected e.g. '[1, 2]' or '(64, 64)'")
    if stack or quote:
        what = 'quotes' if quote else 'brackets'
        raise ConfigError(f'--cfg-options {item!r}: unbalanced {what} in the value: '
                          "expected e.g. '[1, 2]' or '(64, 64)'")


def parse_item(item: str) -> tuple[str, RawValue]:
    """``'a.b=some value'`` -> ``('a.b', RawValue('some value'))``."""
    key, sep, value = item.partition('=')
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f'--cfg-options {item!r}: expected KEY=VALUE, e.g. '
                          'train_cfg.max_iters=2000')
    if any(not part or not part.replace('_', '').replace('-', '').isalnum()
           for part in key.split('.')):
        raise ConfigError(f'--cfg-options {item!r}: the key {key!r} is not a dotted config '
                          'key: expected e.g. model.backbone.depth')
    _check_balanced(value, item)
    return key, RawValue(value)


class CfgOptionsAction(argparse.Action):
    """``--cfg-options`` of the tools: collects :class:`CfgOptions`."""

    def __call__(self, parser, namespace, values, option_string=None):
        options = getattr(namespace, self.dest, None) or CfgOptions()
        for item in values:
            key, value = parse_item(item)
            options[key] = value
        setattr(namespace, self.dest, options)


# ------------------------------------------------------------------ value parsing
def _split_top(text: str) -> list[str]:
    parts, depth, quote, current = [], 0, None, ''
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in '\'"':
            quote = ch
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif ch == ',' and depth == 0:
            parts.append(current)
            current = ''
            continue
        current += ch
    parts.append(current)
    return parts


def parse_literal(text: str) -> Any:
    """A value written on the command line -> a Python value (see the module docstring)."""
    s = text.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in '\'"':
        return s[1:-1]
    if s[:1] in '([' and s[-1:] in ')]' and _OPEN.index(s[0]) == _CLOSE.index(s[-1]):
        inner = s[1:-1]
        items = [parse_literal(p) for p in _split_top(inner) if p.strip()] \
            if inner.strip() else []
        return tuple(items) if s[0] == '(' else items
    if len(_split_top(s)) > 1:  # a,b,c as mmengine reads it: a list
        return [parse_literal(p) for p in _split_top(s)]
    if s in ('True', 'true'):
        return True
    if s in ('False', 'false'):
        return False
    if s in ('None', 'none', 'null'):
        return None
    for kind in (int, float):
        try:
            return kind(s)
        except ValueError:
            pass
    return text


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return 'True or False'
    if isinstance(value, int):
        return 'an integer'
    if isinstance(value, float):
        return 'a number'
    if isinstance(value, (list, tuple)):
        return 'a list such as [a, b]' if isinstance(value, list) else 'a tuple such as (a, b)'
    return type(value).__name__


def typed_value(key: str, raw: RawValue, current: Any, exists: bool) -> Any:
    """The value of ``raw`` for ``key``, whose current value is ``current``."""
    parsed = parse_literal(raw)
    item = f'{key}={raw}'
    if not exists or current is None or parsed is None:
        return parsed
    if isinstance(current, bool):
        if not isinstance(parsed, bool):
            raise ConfigError(f'--cfg-options {item}: {key} is {current!r}: expected True or '
                              'False')
        return parsed
    if isinstance(current, int):
        if isinstance(parsed, bool) or not isinstance(parsed, int):
            raise ConfigError(f'--cfg-options {item}: {key} is {current!r}: expected an '
                              f'integer, got {raw.strip()!r}')
        return parsed
    if isinstance(current, float):
        if isinstance(parsed, bool) or not isinstance(parsed, (int, float)):
            raise ConfigError(f'--cfg-options {item}: {key} is {current!r}: expected a '
                              f'number, got {raw.strip()!r}')
        return float(parsed)
    if isinstance(current, str):
        if isinstance(parsed, (list, tuple)) and raw.strip()[:1] in '([':
            return parsed
        text = str(raw)
        if len(text.strip()) >= 2 and text.strip()[0] == text.strip()[-1] \
                and text.strip()[0] in '\'"':
            return text.strip()[1:-1]
        return text
    if isinstance(current, (list, tuple)):
        if not isinstance(parsed, (list, tuple)):
            raise ConfigError(f'--cfg-options {item}: {key} is {current!r}: expected '
                              f'{_kind(current)}')
        return parsed
    if isinstance(current, dict):
        raise ConfigError(f'--cfg-options {item}: {key} is a group of settings '
                          f'({", ".join(list(current)[:6])}): set one of them, e.g. '
                          f'{key}.{next(iter(current), "name")}=...')
    return parsed


# ------------------------------------------------------------------- value rules
_POSITIVE_INT = ('batch_size', 'max_iters', 'max_epochs', 'val_interval')
_NON_NEGATIVE_INT = ('num_workers', )
_NON_NEGATIVE = ('lr', 'weight_decay')


def check_value(key: str, value: Any) -> None:
    leaf = key.rsplit('.', 1)[-1]
    if leaf in _POSITIVE_INT and not (isinstance(value, int) and not isinstance(value, bool)
                                      and value > 0):
        raise ConfigError(f'--cfg-options {key}={value}: expected a positive integer')
    if leaf in _NON_NEGATIVE_INT and not (isinstance(value, int) and value >= 0):
        raise ConfigError(f'--cfg-options {key}={value}: expected an integer >= 0')
    if leaf in _NON_NEGATIVE and isinstance(value, (int, float)) and value < 0:
        raise ConfigError(f'--cfg-options {key}={value}: expected a number >= 0')


# --------------------------------------------------------------------- key check
def _runner_keys() -> set[str]:
    from mmengine.runner import Runner
    names = set(inspect.signature(Runner.__init__).parameters) - {'self'}
    return names | {'runner_type', 'custom_imports', 'default_scope', 'launcher',
                    'log_level', 'log_processor', 'load_from_strict', 'data_checks',
                    'tta_model', 'tta_pipeline', 'auto_scale_lr', 'model_wrapper_cfg'}


def _class_of(type_name: Any):
    if not isinstance(type_name, str):
        return type_name if callable(type_name) else None
    from .config import _registry_tree
    short = type_name.rsplit('.', 1)[-1]
    for registry in _registry_tree():
        obj = registry.module_dict.get(short)
        if obj is not None:
            return obj
    return None


def accepted_keys(type_name: Any) -> set[str] | None:
    """The keyword arguments the class named ``type_name`` takes; ``None`` when it takes
    any (``**kwargs`` down to a base class that takes any) or is unknown."""
    import torch
    obj = _class_of(type_name)
    if obj is None:
        return None
    if not inspect.isclass(obj):
        try:
            params = inspect.signature(obj).parameters.values()
        except (TypeError, ValueError):
            return None
        if any(p.kind == p.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params}
    names: set[str] = set()
    for klass in obj.__mro__:
        if klass in (object, torch.nn.Module) or '__init__' not in vars(klass):
            if klass in (object, torch.nn.Module):
                return names
            continue
        try:
            params = inspect.signature(vars(klass)['__init__']).parameters.values()
        except (TypeError, ValueError):
            return None
        names.update(p.name for p in params if p.kind not in (p.VAR_POSITIONAL,
                                                               p.VAR_KEYWORD))
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names - {'self'}
    return None


def check_key(cfg, key: str) -> tuple[bool, Any]:
    """Check ``key`` against ``cfg``; return (exists, current value)."""
    parts = key.split('.')
    node: Any = cfg.to_dict() if isinstance(cfg, Config) else cfg
    for depth, part in enumerate(parts):
        where = '.'.join(parts[:depth]) or 'the config'
        is_leaf = depth == len(parts) - 1
        if isinstance(node, (list, tuple)):
            if not (part.isdigit() and int(part) < len(node)):
                raise ConfigError(f'--cfg-options {key}: {where} is a list of {len(node)}: '
                                  f'expected an index 0..{len(node) - 1} after it')
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f'--cfg-options {key}: {where} is a value ({node!r}), not a '
                              'group of settings')
        if part in node:
            node = node[part]
            continue
        if depth == 0:
            pool = set(node) | _runner_keys()
            if part in pool:
                return False, None
            raise ConfigError(f'--cfg-options {key}: unknown key {part!r} at the top level '
                              f'of the config{did_you_mean(part, pool, n=3, cutoff=0.6)}')
        accepted = accepted_keys(node.get('type')) if 'type' in node else None
        if accepted is not None and part not in accepted:
            hint = did_you_mean(part, set(accepted) | set(node), n=3, cutoff=0.6)
            raise ConfigError(f'--cfg-options {key}: {node.get("type")} ({where}) takes no '
                              f'argument {part!r}{hint}')
        if accepted is None:
            hint = did_you_mean(part, node, n=1, cutoff=0.8)
            if hint:
                raise ConfigError(f'--cfg-options {key}: {where} has no key {part!r}{hint} '
                                  '(a new key is accepted only when no existing one is this '
                                  'close)')
        return False, None  # a new key (the rest of the path is created)
    return True, node


def apply_cfg_options(cfg, options: dict, source: str = 'the config') -> None:
    """Check and merge ``options`` into ``cfg`` (see the module docstring)."""
    typed = {}
    for key, value in options.items():
        exists, current = check_key(cfg, key)
        if isinstance(value, RawValue):
            value = typed_value(key, value, current, exists)
        check_value(key, value)
        typed[key] = value
    try:
        cfg.merge_from_dict(typed)
    except Exception as exc:
        from ..utils.errors import one_line
        raise ConfigError(f'--cfg-options cannot be merged into {source}: '
                          f'{one_line(exc)}') from None


__all__ = ['CfgOptions', 'CfgOptionsAction', 'RawValue', 'accepted_keys',
           'apply_cfg_options', 'check_key', 'parse_item', 'parse_literal']


def add_launch_arguments(parser: 'argparse.ArgumentParser') -> None:
    """The flags tools/train.py and tools/test.py share with mmseg's tools:
    ``--cfg-options``, ``--launcher``, ``--local_rank``."""
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override settings in the config, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_launch_arguments(parser: 'argparse.ArgumentParser') -> 'argparse.Namespace':
    """Parse, and export ``--local_rank`` as ``LOCAL_RANK`` when the launcher did not
    (as mmseg's tools do)."""
    import os
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args
