"""Probes F1, F8, M6 and the TorchScript / refusal messages (F12, M1, M2) through the tools."""
from __future__ import annotations

import json
import os
import os.path as osp
import shutil

import pytest

from .conftest import REPO, TOY_CONFIG, run_tool, tiny_toy_body, write_config


def _one_error(proc) -> str:
    lines = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    return lines[0]


def test_empty_toy_split_is_the_usual_empty_dataset_error(tmp_path, toy_root):
    """F1: 'ValueError: need at least one array to concatenate' after a log dir was
    written; now the one line any empty dataset gets, before anything is written."""
    root = tmp_path / 'emptyval'
    shutil.copytree(toy_root, root)
    for sub in ('images/validation', 'annotations/validation'):
        for name in os.listdir(root / sub):
            os.remove(root / sub / name)
    config = write_config(str(tmp_path / 'tiny.py'), TOY_CONFIG, tiny_toy_body(str(root)))
    work = tmp_path / 'work'
    proc = run_tool('train.py', config, '--work-dir', str(work))
    line = _one_error(proc)
    assert f'{root}/images/validation holds no .jpg images for ToyShapesDataset' in line
    assert not work.exists()


@pytest.mark.parametrize('shape', [['0'], ['99999']])
def test_get_flops_shape_is_validated_first(shape):
    """F8: RuntimeError / allocator / TypeError tracebacks before."""
    proc = run_tool('get_flops.py', TOY_CONFIG, '--shape', *shape)
    line = _one_error(proc)
    assert f'--shape {shape[0]}: {shape[0]} is out of range' in line
    assert 'expected sides from 32 to 8192 pixels' in line


@pytest.mark.parametrize('shape, message', [
    ([-5], '-5 is out of range'), ([1], '1 is out of range'), ([64, 0], '0 is out of range'),
    ([1, 2, 3], 'expected H or H W'), ([32, 8192], None)])
def test_get_flops_shape_rule(shape, message):
    import importlib.util
    from langseg.utils.errors import ConfigError
    spec = importlib.util.spec_from_file_location('get_flops_tool',
                                                  osp.join(REPO, 'tools', 'get_flops.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    if message is None:
        tool.check_shape(shape)
        return
    with pytest.raises(ConfigError, match=message):
        tool.check_shape(shape)


def test_get_flops_json_is_written_atomically_and_proxyclip_counts(tmp_path):
    """M6 (a fixed 'JSON.tmp' name before) and a ProxyCLIP count at a small valid shape
    (its scale-factor position resize failed under fvcore's trace)."""
    tiny = write_config(str(tmp_path / 'tp.py'), osp.join(
        REPO, 'configs', 'proxyclip', 'proxyclip_vit-b16-dino-b8_voc21.py'), """
model = dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None, model_name='vit_small_patch8_224',
             pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    templates='a photo of a {}.', slide_crop=56, slide_stride=28)
""")
    out = tmp_path / 'out' / 'flops.json'
    proc = run_tool('get_flops.py', tiny, '--shape', '64', '--json', str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert rows[0]['input_shape'] == [64, 64] or tuple(rows[0]['input_shape']) == (64, 64)
    assert os.listdir(out.parent) == ['flops.json']
