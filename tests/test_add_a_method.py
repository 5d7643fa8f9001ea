"""docs/architecture.md, "How to add a method", followed to the letter: a method folder
written outside the package (a fusion module registered into mmseg's MODELS), a config
that inherits the toy config and imports the folder, two training iterations with
tools/train.py, a checkpoint, and a test run that prints mIoU. The code below is the code
the document shows (the last test checks that they have not drifted apart)."""
from __future__ import annotations

import os
import os.path as osp
import re
import textwrap

import pytest

from .conftest import REPO, TOY_CONFIG, run_tool, tiny_toy_body, tool_env, write_config

#: ``mymethod/__init__.py``: the whole method.
METHOD_SOURCE = '''\
"""Cosine scores of each pixel with each class name, appended to the last map
(the fusion of DenseCLIP, Rao et al., CVPR 2022, arXiv:2112.01518, Sec. 3.2,
Eq. 4, without its context decoder)."""
import torch
import torch.nn.functional as F
from torch import nn

from langseg.models.segmentors.fusion_contract import BaseFusion, FusionOutput
from langseg.registry import MODELS


@MODELS.register_module()
class CosineScoreFusion(BaseFusion):
    uses_backbone_embeddings = False

    def __init__(self, in_channels, text_dim, num_classes, init_cfg=None):
        super().__init__(in_channels, text_dim, num_classes, init_cfg=init_cfg)
        self.proj = nn.Conv2d(self.in_channels[-1], text_dim, 1)

    def neck_in_channels(self):
        return self.in_channels[:-1] + [self.in_channels[-1] + self.num_classes]

    def forward(self, features, text, data_samples=None, state=None):
        # features: a BackboneOutput (maps, optional CLIP embeddings)
        pixels = F.normalize(self.proj(features.maps[-1]), dim=1)
        score = torch.einsum('bchw,kc->bkhw', pixels, F.normalize(text, dim=-1))
        return FusionOutput(maps=self.attach_score(features.maps, -1, score), score=score)
'''

#: ``configs/mymethod/mymethod_mobilenetv2-tiny_1xb8-1000_toy-96x96.py``.
CONFIG_SOURCE = '''\
_base_ = '../toy/fpn_mobilenetv2-tiny_1xb8-1000_toy-96x96.py'
custom_imports = dict(imports=['langseg', 'mymethod'], allow_failed_imports=False)
model = dict(
    type='LanguageGuidedEncoderDecoder',
    class_names='toy',
    text_encoder=dict(type='FrozenCLIPTextEncoder', arch='tiny-text',
                      templates='a photo of a {}.'),
    fusion=dict(type='CosineScoreFusion'),
    identity_head=dict(
        type='ScoreMapIdentityHead', tau=0.07,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))
'''


@pytest.mark.slow  # two tool processes (train, test): about 55 s on two cores
def test_a_method_folder_outside_the_package_trains_and_tests(tmp_path, toy_root):
    (tmp_path / 'mymethod').mkdir()
    (tmp_path / 'mymethod' / '__init__.py').write_text(METHOD_SOURCE)
    # the config sits where the document puts it, so its relative _base_ resolves
    configs = tmp_path / 'configs'
    (configs / 'mymethod').mkdir(parents=True)
    os.symlink(osp.dirname(TOY_CONFIG), configs / 'toy')
    os.symlink(osp.join(REPO, 'configs', '_base_'), configs / '_base_')
    method_config = configs / 'mymethod' / 'mymethod_mobilenetv2-tiny_1xb8-1000_toy-96x96.py'
    method_config.write_text(CONFIG_SOURCE)
    # the tiny toy data and two iterations (the test's only departure from the document)
    config = write_config(str(tmp_path / 'two_iterations.py'), str(method_config),
                          tiny_toy_body(toy_root, max_iters=2, val_interval=2,
                                        ckpt_interval=2))
    env = tool_env()
    env['PYTHONPATH'] = str(tmp_path) + os.pathsep + env['PYTHONPATH']
    work_dir = str(tmp_path / 'work')

    proc = run_tool('train.py', config, '--work-dir', work_dir, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(checkpoint)
    from langseg.utils.state_dict import read_state_dict
    state, _ = read_state_dict(checkpoint)
    assert state['fusion.proj.weight'].shape == (32, 160, 1, 1)  # the folder's module

    proc = run_tool('test.py', config, checkpoint, '--work-dir', str(tmp_path / 'test'),
                    env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    miou = re.search(r'mIoU: (\d+\.\d+)', proc.stdout + proc.stderr)
    assert miou is not None, (proc.stdout + proc.stderr)[-3000:]
    assert 0.0 <= float(miou.group(1)) <= 100.0


def test_the_document_shows_this_code():
    """docs/architecture.md shows exactly the folder and config this test trains."""
    doc = open(osp.join(REPO, 'docs', 'architecture.md')).read()
    for source in (METHOD_SOURCE, CONFIG_SOURCE):
        assert textwrap.dedent(source).strip() in doc
