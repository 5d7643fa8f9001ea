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


# ------------------------------------------------ TorchScript and refusals (F12, M1, M2)
TINY_PROXYCLIP = """
model = dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None, model_name='vit_small_patch8_224',
             pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    templates='a photo of a {}.', slide_crop=56, slide_stride=28)
"""


def test_torchscript_tensors_match_torch_jit_without_running_the_archive(tmp_path):
    """OpenAI's CLIP .pt files are TorchScript: the restricted reader gives exactly the
    state dict torch.jit.load gives (traced CLIP tower; scripted module with a plain
    tensor attribute that is no parameter or buffer)."""
    import torch

    from langseg.utils.state_dict import read_state_dict
    from .test_clip import random_clip

    class Tower(torch.nn.Module):
        def __init__(self, clip):
            super().__init__()
            self.visual = clip.visual

        def forward(self, x):
            return self.visual(x)

    class Scripted(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(4, 3).half()
            self.register_buffer('scale', torch.arange(3, dtype=torch.int64))
            self.mask = torch.ones(2, 2)  # an attribute, not in the state dict

        def forward(self, x):
            return self.proj(x) * self.mask.sum()

    for name, module in [
            ('traced', torch.jit.trace(Tower(random_clip('tiny-rn')),
                                       torch.randn(1, 3, 64, 64))),
            ('scripted', torch.jit.script(Scripted()))]:
        path = str(tmp_path / f'{name}.pt')
        module.save(path)
        state, was_torchscript = read_state_dict(path, allow_torchscript=True)
        reference = torch.jit.load(path).state_dict()
        assert was_torchscript and set(state) == set(reference), name
        for key, value in reference.items():
            assert state[key].dtype == value.dtype and torch.equal(state[key], value), key


def _crafted_torchscript(path, canary) -> None:
    """F12: an archive whose pickles call os.system (it would create ``canary``)."""
    import pickle
    import zipfile

    class Payload:
        def __reduce__(self):
            return (os.system, (f'touch {canary}', ))

    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('archive/data.pkl', pickle.dumps(Payload(), protocol=2))
        archive.writestr('archive/constants.pkl', pickle.dumps(Payload(), protocol=2))
        archive.writestr('archive/code/__torch__.py', 'class M(Module):\n  pass\n')
        archive.writestr('archive/version', '3\n')


def test_crafted_torchscript_refused_in_one_line(tmp_path):
    import numpy as np
    from PIL import Image
    config = write_config(str(tmp_path / 'tp.py'), osp.join(
        REPO, 'configs', 'proxyclip', 'proxyclip_vit-b16-dino-b8_voc21.py'), TINY_PROXYCLIP)
    image = tmp_path / 'img.png'
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(image)
    fake, canary = tmp_path / 'fake_torchscript.pt', tmp_path / 'PWNED'
    _crafted_torchscript(str(fake), canary)
    out = tmp_path / 'x' / 'o.png'
    proc = run_tool('demo.py', str(image), '--classes', 'red circle, blue square',
                    '--config', config, '--out', str(out),
                    '--cfg-options', f'model.clip.pretrained={fake}')
    line = _one_error(proc)
    assert f'refused to load {fake}' in line and 'posix.system' in line
    assert not canary.exists() and not out.exists()


def test_refusals_name_what_was_refused(tmp_path):
    """M1, M2: 'corrupt archive' / 'not a zip archive' before."""
    import pickle

    import numpy as np
    import torch
    from mmengine.logging.history_buffer import HistoryBuffer
    from safetensors.torch import save_file

    from langseg.utils.errors import CheckpointError
    from langseg.utils.state_dict import load_checkpoint_file

    class Getattr:
        def __reduce__(self):
            return (getattr, (HistoryBuffer, '__init__'))

    class System:
        def __reduce__(self):
            return (os.system, ('true', ))

    torch.save({'a': Getattr()}, tmp_path / 'getattr.pth')
    torch.save({'a': np.array([object()], dtype=object)}, tmp_path / 'objects.pth')
    with open(tmp_path / 'raw.pth', 'wb') as f:
        pickle.dump({'a': System()}, f)
    for name, expected in [('getattr.pth', "pickles getattr(HistoryBuffer, '__init__')"),
                           ('objects.pth', 'pickles a numpy object array'),
                           ('raw.pth', 'pickles posix.system')]:
        with pytest.raises(CheckpointError) as info:
            load_checkpoint_file(str(tmp_path / name))
        assert f'refused to load {tmp_path / name}: it {expected}' in str(info.value)
    save_file({'w': torch.ones(2)}, str(tmp_path / 'model.safetensors'))
    proc = run_tool('test.py', TOY_CONFIG, str(tmp_path / 'model.safetensors'),
                    '--work-dir', str(tmp_path / 'w'))
    assert 'is a safetensors file, not a torch checkpoint' in _one_error(proc)
