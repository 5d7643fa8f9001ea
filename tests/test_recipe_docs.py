"""The "Recipe against the official code" tables of docs/methods/ say what the configs
hold: every langseg cell (`` `key` = `value` ``) is compared with the resolved config named
above its table, and every row says equal or gives the departure's reason. A key the
config does not set reads `'<default>'` (the module's own default applies)."""
from __future__ import annotations

import ast
import os.path as osp
import re

import pytest
from mmengine.config import Config

from .conftest import REPO

DOCS = ('denseclip', 'convformer', 'clip_sp')
CELL = re.compile(r'^`(?P<key>[^`]+)` = `(?P<value>[^`]+)`$')
TOKEN = re.compile(r"\['(?P<str>[^']+)'\]|\[(?P<idx>\d+)\]|\.?(?P<attr>[A-Za-z_]\w*)")
_MISSING = object()


def _tables(doc: str) -> list[tuple[str, list[list[str]]]]:
    """(config, rows) of each table in the doc's "Recipe against the official code"."""
    text = open(osp.join(REPO, 'docs', 'methods', f'{doc}.md')).read()
    section = text.split('## Recipe against the official code', 1)
    assert len(section) == 2, f'docs/methods/{doc}.md has no recipe table'
    body = re.split(r'\n## ', section[1], maxsplit=1)[0]
    tables, config = [], None
    for line in body.splitlines():
        found = re.match(r'^Config: `([^`]+)`', line)
        if found:
            config = found.group(1)
            tables.append((config, []))
        elif line.startswith('|') and not line.startswith('|---') and \
                not line.startswith('| setting'):
            assert config is not None, line
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            tables[-1][1].append(cells)
    return tables


def _resolve(cfg, key: str):
    node = cfg.to_dict()
    pos = 0
    while pos < len(key):
        tok = TOKEN.match(key, pos)
        assert tok and tok.end() > pos, f'cannot parse key {key!r} at {key[pos:]!r}'
        pos = tok.end()
        name = tok.group('str') or tok.group('attr')
        if tok.group('idx') is not None:
            node = node[int(tok.group('idx'))]
        elif isinstance(node, dict):
            node = node.get(name, _MISSING)
            if node is _MISSING:
                return '<default>'
        else:
            return '<default>'
    return node


def _plain(value):
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


CASES = [(doc, config, tuple(row)) for doc in DOCS for config, rows in _tables(doc)
         for row in rows]


def test_each_method_has_a_recipe_table():
    for doc in DOCS:
        tables = _tables(doc)
        assert tables and all(rows for _, rows in tables), doc
    assert len(CASES) > 60


@pytest.mark.parametrize('doc,config,row', CASES,
                         ids=[f'{d}:{osp.basename(c)}:{r[0]}' for d, c, r in CASES])
def test_recipe_row_matches_the_resolved_config(doc, config, row):
    assert len(row) == 4, row
    setting, official, langseg, status = row
    assert official, row
    assert status == 'equal' or status.startswith(('equal (', 'departure: ',
                                                   'paper silent: ')), row
    cell = CELL.match(langseg)
    assert cell, f'langseg cell must read `key` = `value`: {langseg!r}'
    cfg = Config.fromfile(osp.join(REPO, config))
    actual = _resolve(cfg, cell.group('key'))
    expected = ast.literal_eval(cell.group('value'))
    assert _plain(actual) == _plain(expected), (config, cell.group('key'), actual)
