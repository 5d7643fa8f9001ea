"""docs/methods/segclip.md, "Recipe against the official code": every row names an official
file, says equal or gives a departure with its reason, and every `` `key = value` `` of
the langseg column is the resolved value of that key in the config it names."""
from __future__ import annotations

import ast
import os.path as osp
import re

import pytest
from mmengine.config import Config

from .conftest import REPO

DOC = osp.join(REPO, 'docs/methods/segclip.md')
PRETRAIN = 'segclip_vit-b16_8xb96-10e_cc3m-coco.py'
ZERO_SHOT_PREFIXES = ('voc21', 'context60', 'coco-object')
CHECK = re.compile(r'^(?:(?P<config>[\w-]+): )?(?P<key>[A-Za-z_][\w.]*) = (?P<value>.+)$')
OFFICIAL_FILE = re.compile(r'`[\w./-]+\.(?:py|md|yml)(?::[\d,-]+)?`|`M:[\d,-]+`')


def recipe_rows() -> list[tuple[str, list[str]]]:
    """(table title, cells) of every row of the tables under the recipe section."""
    with open(DOC, encoding='utf-8') as f:
        text = f.read()
    section = text.split('## Recipe against the official code', 1)
    assert len(section) == 2, 'docs/methods/segclip.md lacks the recipe section'
    body = re.split(r'\n## ', section[1], maxsplit=1)[0]
    rows, title = [], None
    for line in body.splitlines():
        if line.startswith('### '):
            title = line[4:]
        elif line.startswith('|') and not re.match(r'^\|[-| ]+\|$', line):
            cells = [c.strip() for c in re.split(r'(?<!\\)\|', line.strip())[1:-1]]
            if cells[0] != 'setting':
                rows.append((title, cells))
    return rows


def resolve(cfg: Config, key: str):
    node = cfg
    for part in key.split('.'):
        if isinstance(node, (list, tuple)):
            node = node[int(part)]
        else:
            assert part in node, f'{key}: no {part!r} in the config'
            node = node[part]
    return node


def plain(value):
    """Config values with tuples as lists and ConfigDicts as dicts, for comparison."""
    if hasattr(value, 'to_dict'):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def config_of(prefix: str | None, cache: dict) -> Config:
    name = PRETRAIN if prefix is None else f'segclip_vit-b16_{prefix}.py'
    assert prefix is None or prefix in ZERO_SHOT_PREFIXES, prefix
    if name not in cache:
        cache[name] = Config.fromfile(osp.join(REPO, 'configs/segclip', name))
    return cache[name]


def test_every_row_names_an_official_file_and_equal_or_a_reasoned_departure():
    rows = recipe_rows()
    assert len(rows) >= 25
    for title, cells in rows:
        assert len(cells) == 4, (title, cells)
        setting, official, _, verdict = cells
        assert OFFICIAL_FILE.search(official), f'{setting}: no official file named'
        assert verdict.startswith('equal') or re.match(r'departure: \S.{10,}', verdict) \
            or re.search(r'; departure for .+: \S.{10,}', verdict), (setting, verdict)


def test_langseg_column_is_the_resolved_config():
    cache: dict = {}
    checked = 0
    rows_with_checks = 0
    for title, cells in recipe_rows():
        spans = [m for m in (CHECK.match(s) for s in re.findall(r'`([^`]+)`', cells[2])) if m]
        rows_with_checks += bool(spans)
        for m in spans:
            cfg = config_of(m['config'], cache)
            expected = ast.literal_eval(m['value'])
            actual = resolve(cfg, m['key'])
            assert plain(actual) == plain(expected), \
                f"{cells[0]}: {m['key']} is {actual!r} in the config, the docs say {expected!r}"
            checked += 1
    assert checked >= 45 and rows_with_checks >= 25, (checked, rows_with_checks)


@pytest.mark.parametrize('span,bad', [
    ('train_dataloader.drop_last = False', True),
    ("voc21: model.class_names = 'voc21.txt'", True),
    ('optim_wrapper.paramwise_cfg.no_decay_names = ("bias",)', False),
])
def test_the_check_refuses_a_wrong_value(span, bad):
    m = CHECK.match(span)
    value = plain(resolve(config_of(m['config'], {}), m['key']))
    assert (value != plain(ast.literal_eval(m['value']))) is bad
