"""--cfg-options through the tools: unknown, misspelt, mistyped, malformed and invalid
settings give one ``error:`` line (exit 2, nothing written); values keep their spaces."""
from __future__ import annotations

import os

import pytest

from .conftest import TOY_CONFIG, run_tool, tiny_toy_body, write_config


@pytest.fixture
def tiny(tmp_path, toy_root):
    return write_config(str(tmp_path / 'tiny.py'), TOY_CONFIG,
                        tiny_toy_body(toy_root, max_iters=2, val_interval=2, ckpt_interval=2))


@pytest.mark.parametrize('option, expected', [
    # F2: unknown and misspelt keys (rc 0 / TypeError tracebacks before)
    ('no_such_key.foo=3', "unknown key 'no_such_key' at the top level"),
    ('train_cfg.max_itres=2', "takes no argument 'max_itres'; closest: max_iters"),
    ('model.backbone.widen_factr=0.25', "closest: widen_factor"),
    # F3: malformed and invalid values (ValueError / AssertionError tracebacks before)
    ('train_cfg.max_iters', 'expected KEY=VALUE'),
    ('train_cfg.max_iters=abc', "expected an integer, got 'abc'"),
    ('model.data_preprocessor.size=(64,64', 'unbalanced brackets'),
    ('train_dataloader.batch_size=-3', 'expected a positive integer'),
    ('model.decode_head.dropout_ratio=high', 'expected a number'),
    ('model.data_preprocessor.size=64', 'expected a tuple'),
])
def test_bad_cfg_options_one_line_before_anything_is_written(tiny, tmp_path, option,
                                                              expected):
    work = tmp_path / 'work'
    proc = run_tool('train.py', tiny, '--work-dir', str(work), '--cfg-options', option)
    lines = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr
    assert expected in lines[0], lines[0]
    assert not work.exists()


def test_values_keep_their_spaces_through_train_and_test(tiny, tmp_path):
    """F4: mmengine's DictAction made 'dätä dir/tøy root' 'dätädir/tøyroot'."""
    root = tmp_path / 'dätä dir' / 'tøy root'
    proc = run_tool('train.py', tiny, '--work-dir', str(tmp_path / 'data unicode'),
                    '--cfg-options', f'train_dataloader.dataset.data_root={root}',
                    f'val_dataloader.dataset.data_root={root}')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (root / 'meta.json').is_file()
    assert not (tmp_path / 'dätädir').exists()
    missing = tmp_path / 'my data'
    proc = run_tool('test.py', tiny, '--no-checkpoint', '--work-dir', str(tmp_path / 'w2'),
                    '--cfg-options',
                    f'test_dataloader.dataset.type=ADE20KDataset',
                    f'test_dataloader.dataset.data_root={missing}')
    assert proc.returncode == 2 and f'data root {missing} of ADE20KDataset' in proc.stderr


def test_values_are_typed_by_the_setting_they_replace(tmp_path):
    from langseg.engine.cfg_options import CfgOptionsAction
    from langseg.engine.config import load_config
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    args = parser.parse_args(['--cfg-options', 'train_dataloader.dataset.data_root=0123',
                              'model.decode_head.dropout_ratio=0', 'train_cfg.max_iters=7',
                              'model.data_preprocessor.size=[32, 48]',
                              'default_hooks.checkpoint.max_keep_ckpts=2',
                              "model.decode_head.align_corners=True",
                              'load_from=None', "work_dir='/tmp/a b'"])
    cfg = load_config(TOY_CONFIG, args.cfg_options)
    assert cfg.train_dataloader.dataset.data_root == '0123'  # a string setting stays text
    assert cfg.model.decode_head.dropout_ratio == 0.0
    assert isinstance(cfg.model.decode_head.dropout_ratio, float)
    assert cfg.train_cfg.max_iters == 7
    assert list(cfg.model.data_preprocessor.size) == [32, 48]
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 2
    assert cfg.model.decode_head.align_corners is True
    assert cfg.work_dir == '/tmp/a b'


def test_plain_dict_options_from_python_are_checked_too():
    from langseg.engine.config import load_config
    from langseg.utils.errors import ConfigError
    with pytest.raises(ConfigError, match='closest: max_iters'):
        load_config(TOY_CONFIG, {'train_cfg.max_itres': 2})
    cfg = load_config(TOY_CONFIG, {'train_cfg.max_iters': 3})
    assert cfg.train_cfg.max_iters == 3
    assert os.path.isfile(TOY_CONFIG)
