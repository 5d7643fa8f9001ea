"""benchmarks/training_free_speed.py: the methods and configs it finds, the evaluation's
resize applied to the raw sizes, and one measured row on tiny towers (no timing is
asserted: the figures live in docs/benchmarks.md)."""
from __future__ import annotations

import importlib.util
import os.path as osp

import torch

from .conftest import REPO, write_config
from .test_compare import TINY_PROXY


def _script():
    spec = importlib.util.spec_from_file_location(
        'training_free_speed', osp.join(REPO, 'benchmarks', 'training_free_speed.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_methods_configs_and_the_evaluation_resize():
    speed = _script()
    found = dict(speed.method_configs(['proxyclip', 'maskclip'], 'voc21'))
    assert osp.basename(found['proxyclip']) == 'proxyclip_vit-b16-dino-b8_voc21.py'
    assert osp.basename(found['maskclip']) == 'maskclip_vit-b16_coco-stuff.py'  # its only one
    from mmengine.config import Config
    cfg = Config.fromfile(found['proxyclip'])
    # VOC21: Resize(scale=(2048, 336), keep_ratio=True): short side 336, as mmcv rescales
    assert speed.resized_size(cfg, (375, 500)) == (336, 448)
    assert speed.resized_size(cfg, (500, 375)) == (448, 336)
    cfg = Config.fromfile(osp.join(REPO, 'configs/proxyclip/proxyclip_vit-b16-dino-b8_ade20k.py'))
    assert speed.resized_size(cfg, (512, 683)) == (448, 598)   # ADE20K: 448, 683 * 448 / 512


def test_one_row_on_tiny_towers(tmp_path):
    speed = _script()
    config = write_config(str(tmp_path / 'proxyclip_tiny_voc21.py'),
                          osp.join(REPO, 'configs/proxyclip/proxyclip_vit-b16-dino-b8_voc21.py'),
                          TINY_PROXY.replace('slide_crop=48, slide_stride=32',
                                             'slide_crop=224, slide_stride=224'))
    assert 'slide_crop=224' in open(config).read()
    row, labels = speed.measure('proxyclip', config, [(30, 40), (40, 30)],
                                torch.device('cpu'), 'fp32', 4)
    assert row['status'] == 'measured' and row['sizes'] == ['336x448', '448x336']
    # windows of 224 px, stride 224: 2 by 2 on each image
    assert row['windows'] == 2 * 2 * 2 and row['window_batch'] == 4
    assert row['images_per_second'] > 0 and row['peak_memory_mib'] > 100
    assert [tuple(lab.shape) for lab in labels] == [(336, 448), (448, 336)]
    same, _ = speed.measure('proxyclip', config, [(30, 40), (40, 30)],
                            torch.device('cpu'), 'fp32', 4)
    assert same['weights_checksum'] == row['weights_checksum']      # seeded weights
