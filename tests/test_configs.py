"""Every shipped config parses, follows the naming rule and names only registered types."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

import langseg  # noqa: F401
from langseg.engine.config import check_config_types, explain_unknown_type
from langseg.registry import DATASETS, MODEL_WRAPPERS

from .conftest import REPO

CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '/_base_/' not in p)
# {method}_{backbone}_{NxB}-{schedule}_{dataset}-{crop}.py; image-text pretraining drops
# the crop ({method}_{backbone}_{NxB}-{schedule}_{dataset}.py: pairs are cropped to the
# tower's input size); the training-free / zero-shot form is {method}_{backbone}_{dataset}.py.
NAME = re.compile(r'^[a-z0-9.+-]+_[a-z0-9.+-]+_(\d+xb\d+-[a-z0-9.]+_[a-z0-9.+-]+-\d+x\d+|'
                  r'[a-z0-9.+-]+)\.py$')
PRETRAINING_NAME = re.compile(r'^[a-z0-9.+-]+_[a-z0-9.+-]+_\d+xb\d+-[a-z0-9.]+_[a-z0-9.+-]+\.py$')
IMAGE_TEXT_MODELS = ('SegCLIP', )


def test_there_are_configs():
    assert any('configs/toy/' in p for p in CONFIGS)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_config_parses_and_is_wired_to_langseg(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports == dict(imports=['langseg'], allow_failed_imports=False)
    check_config_types(cfg)
    name = osp.basename(path)
    pretraining = cfg.model.get('type') in IMAGE_TEXT_MODELS and 'train_dataloader' in cfg
    assert NAME.match(name) or (pretraining and PRETRAINING_NAME.match(name)), \
        f'{name} breaks the naming rule'


def test_base_files_exist():
    base = osp.join(REPO, 'configs', '_base_')
    for name in ('ade20k', 'cityscapes', 'pascal_voc12', 'pascal_voc12_aug', 'pascal_context',
                 'pascal_context_59', 'coco-stuff164k', 'toy_shapes'):
        Config.fromfile(osp.join(base, 'datasets', f'{name}.py'))
    for n in (20, 40, 80, 160):
        cfg = Config.fromfile(osp.join(base, 'schedules', f'schedule_{n}k.py'))
        assert cfg.train_cfg.max_iters == n * 1000
    assert Config.fromfile(osp.join(base, 'default_runtime.py')).default_scope == 'mmseg'


def test_import_registers_into_mmseg_registries():
    assert DATASETS.get('ToyShapesDataset') is not None
    assert MODEL_WRAPPERS.get('CPUDistributedDataParallel') is not None


def test_unknown_type_message_parsing():
    msg = ('EncoderDecodr is not in the mmseg::model registry. Please check whether the '
           'value of `EncoderDecodr` is correct or it was registered as expected.')
    text = explain_unknown_type(msg)
    assert "unknown type 'EncoderDecodr' in the mmseg::model registry" in text
    assert 'EncoderDecoder' in text.split('closest registered names:')[1]
    assert explain_unknown_type('some other KeyError') is None
