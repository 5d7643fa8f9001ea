"""Configs ship with the package: a project outside the repository inherits them by package,
``_base_ = 'langseg::proxyclip/proxyclip_vit-b16-dino-b8_voc21.py'``, as mmseg's ``mmseg::``.

Every run here is a subprocess with a clean interpreter whose working directory is a
temporary folder outside the repository (the user's project); the langseg it imports is
this checkout (conftest.tool_env puts it first on PYTHONPATH) or, in the wheel test, a
wheel built from this checkout and unpacked without the repository on the path."""
from __future__ import annotations

import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import tarfile
import textwrap
import zipfile

from .conftest import REPO, TINY_TOY, run_python, run_tool, tool_env

BASE = 'proxyclip/proxyclip_vit-b16-dino-b8_voc21.py'

# The user's config: the packaged ProxyCLIP voc21 config with small random towers (no
# download) and two overrides of their own.
USER_PROXYCLIP = f"""\
_base_ = 'langseg::{BASE}'
model = dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None, model_name='vit_small_patch8_224.dino',
             pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    templates='a photo of a {{}}.', prob_thd=0.3, slide_crop=64, slide_stride=32)
"""

# Loads the user's config the way a script of one's own does (import langseg, then
# mmengine's Config.fromfile) and runs mmseg's init_model + inference_model on it.
LOAD_AND_RUN = """\
import json, sys
import numpy as np
import langseg
from mmengine.config import Config
from mmseg.apis import inference_model, init_model
cfg = Config.fromfile('my_config.py')
files = [line for line in cfg.text.splitlines() if line.endswith('.py') and osp.isabs(line)]
model = init_model('my_config.py', device='cpu')
image = np.random.RandomState(0).randint(0, 256, (80, 96, 3), dtype=np.uint8)
result = inference_model(model, image)
print(json.dumps(dict(
    files=files, langseg=langseg.__file__, type=type(model).__name__,
    prob_thd=cfg.model.prob_thd, slide_stride=cfg.model.slide_stride,
    slide_crop=cfg.model.slide_crop, scopes=[k for k in cfg.model if k == '_scope_'],
    default_scope=cfg.default_scope, custom_imports=cfg.custom_imports.imports,
    classes=list(model.dataset_meta['classes']), shape=list(result.pred_sem_seg.shape))))
""".replace('import json, sys', 'import json, os.path as osp, sys')


def _user_project(tmp_path, name: str = 'project') -> str:
    project = tmp_path / name
    project.mkdir()
    assert not osp.realpath(str(project)).startswith(osp.realpath(REPO) + os.sep)
    return str(project)


def _run_python(args: list[str], cwd: str, env: dict | None = None,
                timeout: int = 600) -> subprocess.CompletedProcess:
    return run_python(args, cwd=cwd, timeout=timeout, env=env)


def test_the_package_link_is_the_repository_configs():
    link = osp.join(REPO, 'langseg', '.mim', 'configs')
    assert osp.islink(link) and os.readlink(link) == osp.join('..', '..', 'configs')
    assert osp.realpath(link) == osp.realpath(osp.join(REPO, 'configs'))
    assert osp.isfile(osp.join(link, BASE))


def _check_proxyclip_result(result: dict, langseg_root: str, project: str) -> None:
    configs = osp.join(langseg_root, 'langseg', '.mim', 'configs')
    # The packaged config and its whole relative _base_ chain resolve inside the package;
    # the user's file is the last one merged.
    assert result['files'] == [
        osp.join(configs, '_base_/models/proxyclip_vit-b16_dino-b8.py'),
        osp.join(configs, '_base_/datasets/ov_voc21.py'),
        osp.join(configs, '_base_/default_runtime.py'),
        osp.join(configs, BASE),
        osp.join(project, 'my_config.py')]
    assert result['langseg'] == osp.join(langseg_root, 'langseg', '__init__.py')
    assert result['type'] == 'ProxyCLIPSegmentor'
    # the user's values win; the packaged config's values stay where not overridden
    assert (result['prob_thd'], result['slide_crop'], result['slide_stride']) == (0.3, 64, 32)
    assert result['default_scope'] == 'mmseg' and result['scopes'] == []
    assert result['custom_imports'] == ['langseg']
    # PASCAL VOC: background + the 20 object classes, aeroplane first
    assert len(result['classes']) == 21 and 'aeroplane' in result['classes'][1]
    assert result['shape'] == [80, 96]  # one label per pixel of the image


def test_a_project_outside_the_repo_inherits_a_packaged_config(tmp_path):
    project = _user_project(tmp_path)
    with open(osp.join(project, 'my_config.py'), 'w') as f:
        f.write(USER_PROXYCLIP)
    with open(osp.join(project, 'run.py'), 'w') as f:
        f.write(LOAD_AND_RUN)
    proc = _run_python(['run.py'], project)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    _check_proxyclip_result(result, REPO, osp.realpath(project))


def _toy_user_config(project: str, toy_root: str) -> str:
    path = osp.join(project, 'my_toy.py')
    with open(path, 'w') as f:
        f.write(textwrap.dedent(f"""\
        _base_ = 'langseg::toy/fpn_mobilenetv2-tiny_1xb8-1000_toy-96x96.py'
        toy = {TINY_TOY!r}
        train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                                dataset=dict(data_root={toy_root!r}, generate=toy))
        val_dataloader = dict(num_workers=0, persistent_workers=False,
                              dataset=dict(data_root={toy_root!r}, generate=toy))
        test_dataloader = val_dataloader
        model = dict(data_preprocessor=dict(size=(64, 64)))
        train_cfg = dict(max_iters=4, val_interval=4)
        param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=4,
                                by_epoch=False)]
        default_hooks = dict(logger=dict(interval=2), checkpoint=dict(interval=4))
        """))
    return path


def _miou(log: str) -> str:
    found = re.findall(r'mIoU: ([0-9.]+)', log)
    assert found, log[-3000:]
    return found[-1]


def test_langseg_train_and_mmseg_test_run_a_user_config(tmp_path, toy_root):
    """langseg's tools/train.py trains a user config that inherits ``langseg::toy/...``;
    mmseg's shipped tools/test.py, run through ``python -m langseg``, evaluates the
    checkpoint to the mIoU of the training run's last validation (same weights, same
    split)."""
    project = _user_project(tmp_path)
    config = _toy_user_config(project, toy_root)
    train = run_tool('train.py', config, '--work-dir', 'work', cwd=project)
    assert train.returncode == 0, train.stderr[-3000:]
    checkpoint = osp.join(project, 'work', 'iter_4.pth')
    assert osp.isfile(checkpoint)
    test = _run_python(['-m', 'langseg', 'mmseg::tools/test.py', config, checkpoint,
                        '--work-dir', 'work_test'], project)
    assert test.returncode == 0, test.stderr[-3000:]
    assert _miou(test.stdout + test.stderr) == _miou(train.stdout + train.stderr)


def test_mmseg_tools_need_langseg_imported_first(tmp_path, toy_root):
    """Why ``python -m langseg`` exists: mmengine 0.10.7 reads ``_base_`` before it imports
    ``custom_imports`` and knows only OpenMMLab's packages, so mmseg's tools/train.py run
    directly refuses ``langseg::`` (if this ever passes, the docs' advice can go)."""
    import mmseg
    project = _user_project(tmp_path)
    config = _toy_user_config(project, toy_root)
    tool = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'train.py')
    proc = _run_python([tool, config, '--work-dir', 'work'], project)
    assert proc.returncode != 0
    assert 'mmengine does not support to load langseg config' in proc.stderr


def test_an_unknown_packaged_config_is_one_line_with_close_names(tmp_path):
    project = _user_project(tmp_path)
    config = osp.join(project, 'typo.py')
    with open(config, 'w') as f:
        f.write("_base_ = 'langseg::proxyclip/proxyclip_vit-b16-dino-b8_voc2.py'\n")
    proc = run_tool('test.py', config, cwd=project)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr[-2000:]
    assert 'langseg::proxyclip/proxyclip_vit-b16-dino-b8_voc2.py is not a config' in lines[0]
    assert 'proxyclip/proxyclip_vit-b16-dino-b8_voc21.py' in lines[0]


def _repo_configs() -> set[str]:
    root = osp.join(REPO, 'configs')
    return {osp.relpath(p, root) for p in glob.glob(osp.join(root, '**', '*.py'),
                                                    recursive=True)}


def test_wheel_and_sdist_carry_the_configs(tmp_path):
    """A wheel and an sdist built from this checkout (setuptools, no network) hold every
    config as a file under langseg/.mim/configs, and the unpacked wheel alone (the
    repository off the path) serves ``langseg::`` to a project outside it."""
    src = tmp_path / 'src'
    src.mkdir()
    for name in ('pyproject.toml', 'README.md'):
        shutil.copy(osp.join(REPO, name), src / name)
    for name in ('langseg', 'configs'):
        shutil.copytree(osp.join(REPO, name), src / name, symlinks=True,
                        ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    dist = tmp_path / 'dist'
    for hook in ('build_wheel', 'build_sdist'):  # one process each, as pip and build do
        # (in one process setuptools 81 writes the sdist into the wheel's scratch folder)
        build = f'from setuptools import build_meta as b; import sys; b.{hook}(sys.argv[1])'
        proc = _run_python(['-c', build, str(dist)], str(src), timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
    expected = _repo_configs()
    assert BASE in expected and len(expected) > 100

    (wheel,) = glob.glob(str(dist / '*.whl'))
    prefix = 'langseg/.mim/configs/'
    with zipfile.ZipFile(wheel) as zf:
        in_wheel = {n[len(prefix):] for n in zf.namelist() if n.startswith(prefix)}
        assert in_wheel == expected
        with open(osp.join(REPO, 'configs', BASE), 'rb') as f:
            assert zf.read(prefix + BASE) == f.read()
        site = tmp_path / 'site'
        zf.extractall(site)
    (sdist,) = glob.glob(str(dist / '*.tar.gz'))
    with tarfile.open(sdist) as tf:
        members = {m.name.split('/', 1)[1]: m for m in tf.getmembers() if '/' in m.name}
    assert {n[len(prefix):] for n, m in members.items()
            if n.startswith(prefix) and n.endswith('.py') and m.isfile()} == expected

    project = _user_project(tmp_path)
    with open(osp.join(project, 'my_config.py'), 'w') as f:
        f.write(USER_PROXYCLIP)
    with open(osp.join(project, 'run.py'), 'w') as f:
        f.write(LOAD_AND_RUN)
    env = tool_env()
    env['PYTHONPATH'] = str(site)  # the wheel's langseg, not this checkout
    proc = _run_python(['run.py'], project, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    _check_proxyclip_result(result, str(site), osp.realpath(project))


SCHEME_PROBE = r'''
import json
from mmengine.config import Config

def lookups():
    out = {}
    for name in ('../_base_/default_runtime.py', 'mmseg::_base_/default_runtime.py'):
        out[name] = list(Config._get_cfg_path(name, '/somewhere/configs/x/y.py'))
    return out

before = lookups()
import langseg  # noqa: E402
after = lookups()
wrapper = Config.__dict__['_get_cfg_path']
langseg.engine.install_config_scheme()              # idempotent
print(json.dumps(dict(before=before, after=after,
                      again=Config.__dict__['_get_cfg_path'] is wrapper,
                      ours=list(Config._get_cfg_path('langseg::' + 'toy/fpn_mobilenetv2-tiny_1xb8-1000_toy-96x96.py', '/x.py')))))
'''


def test_the_scheme_changes_only_langseg_paths(tmp_path):
    """``import langseg`` leaves mmengine's lookup of every other ``_base_`` as it was
    (a relative path, ``mmseg::``, with mmseg's scope tag) and resolves ``langseg::`` to
    this checkout's configs with no scope tag; installing twice changes nothing."""
    import mmseg
    proc = _run_python(['-c', SCHEME_PROBE], _user_project(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads(proc.stdout.strip().splitlines()[-1])
    assert state['after'] == state['before']
    assert state['before']['../_base_/default_runtime.py'] == [
        '/somewhere/configs/x/../_base_/default_runtime.py', None]
    assert state['before']['mmseg::_base_/default_runtime.py'] == [
        osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs', '_base_',
                 'default_runtime.py'), 'mmseg']
    assert state['again'] is True
    path, scope = state['ours']
    assert scope is None
    assert osp.realpath(path) == osp.realpath(
        osp.join(REPO, 'configs', 'toy', 'fpn_mobilenetv2-tiny_1xb8-1000_toy-96x96.py'))
