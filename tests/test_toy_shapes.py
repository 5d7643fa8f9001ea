import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from langseg.datasets import toy_shapes
from langseg.datasets.toy_shapes import (TOY_CLASSES, TOY_COLOURS, TOY_SHAPES,
                                         ToyShapesDataset, generate_toy_shapes,
                                         render_toy_sample)
from langseg.utils.errors import DataError


def test_classes_are_words():
    assert TOY_CLASSES[0] == 'background'
    assert len(TOY_CLASSES) == 1 + len(TOY_COLOURS) * len(TOY_SHAPES)
    assert 'red circle' in TOY_CLASSES and 'blue square' in TOY_CLASSES


def test_render_is_deterministic_and_seed_dependent():
    a_img, a_lab = render_toy_sample(0, 'training', 3, 64)
    b_img, b_lab = render_toy_sample(0, 'training', 3, 64)
    c_img, _ = render_toy_sample(1, 'training', 3, 64)
    d_img, _ = render_toy_sample(0, 'validation', 3, 64)
    assert np.array_equal(a_img, b_img) and np.array_equal(a_lab, b_lab)
    assert not np.array_equal(a_img, c_img)
    assert not np.array_equal(a_img, d_img)


def test_labels_follow_the_drawn_colour():
    """Pixels labelled '<colour> <shape>' are dominated by that colour's channel."""
    channel = {'red': 0, 'green': 1, 'blue': 2}
    checked = 0
    for i in range(30):
        img, lab = render_toy_sample(0, 'training', i, 96)
        assert lab.max() < len(TOY_CLASSES)
        for cls in np.unique(lab):
            if cls == 0:
                continue
            colour = TOY_CLASSES[cls].split()[0]
            mean = img[lab == cls].astype(float).mean(axis=0)
            assert mean.argmax() == channel[colour], (i, TOY_CLASSES[cls], mean)
            checked += 1
    assert checked > 30


def test_shapes_are_recognisable():
    """Each shape fills its bounding box as its geometry says."""
    fill = {s: [] for s in TOY_SHAPES}
    rng = np.random.default_rng(0)
    for _ in range(40):
        for shape in TOY_SHAPES:
            mask = toy_shapes._shape_mask(rng, shape, 96)
            ys, xs = np.nonzero(mask)
            box = (np.ptp(ys) + 1) * (np.ptp(xs) + 1)
            fill[shape].append(mask.sum() / box)
    assert np.mean(fill['square']) > 0.72  # 1 for an axis-aligned square, less rotated
    assert 0.68 < np.mean(fill['circle']) < 0.8  # pi / 4 plus rasterisation
    assert np.mean(fill['triangle']) < 0.55  # 1/2 for an upright triangle


def test_generate_layout_and_meta(tmp_path):
    root = str(tmp_path / 'toy')
    generate_toy_shapes(root, num_train=5, num_val=3, size=32, seed=2, progress=False)
    assert sorted(os.listdir(osp.join(root, 'images', 'training'))) == \
        [f'toy_{i:05d}.jpg' for i in range(5)]
    assert len(os.listdir(osp.join(root, 'annotations', 'validation'))) == 3
    label = cv2.imread(osp.join(root, 'annotations', 'training', 'toy_00000.png'),
                       cv2.IMREAD_UNCHANGED)
    assert label.dtype == np.uint8 and label.shape == (32, 32)
    _, expected = render_toy_sample(2, 'training', 0, 32)
    assert np.array_equal(label, expected)
    with open(osp.join(root, 'meta.json')) as f:
        assert json.load(f)['num_train'] == 5
    # No temporary folder is left beside the root.
    assert [p for p in os.listdir(tmp_path) if '.tmp-' in p] == []
    # A second call with the same settings reuses the folder.
    mtime = os.path.getmtime(osp.join(root, 'meta.json'))
    generate_toy_shapes(root, num_train=5, num_val=3, size=32, seed=2, progress=False)
    assert os.path.getmtime(osp.join(root, 'meta.json')) == mtime


def test_generate_refuses_other_settings_and_foreign_folders(tmp_path):
    root = str(tmp_path / 'toy')
    generate_toy_shapes(root, num_train=2, num_val=1, size=32, progress=False)
    with pytest.raises(DataError, match='was generated with'):
        generate_toy_shapes(root, num_train=3, num_val=1, size=32, progress=False)
    foreign = tmp_path / 'mine'
    foreign.mkdir()
    (foreign / 'keep.txt').write_text('user data')
    with pytest.raises(DataError, match='no meta.json'):
        generate_toy_shapes(str(foreign), progress=False)
    assert (foreign / 'keep.txt').read_text() == 'user data'


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    calls = {'n': 0}
    real = toy_shapes.render_toy_sample

    def failing(*args, **kwargs):
        calls['n'] += 1
        if calls['n'] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(toy_shapes, 'render_toy_sample', failing)
    with pytest.raises(KeyboardInterrupt):
        generate_toy_shapes(str(tmp_path / 'toy'), num_train=5, num_val=1, size=32,
                            progress=False)
    assert os.listdir(tmp_path) == []


def test_dataset_generates_on_first_use(tmp_path):
    root = str(tmp_path / 'toy')
    ds = ToyShapesDataset(data_root=root,
                          generate=dict(num_train=4, num_val=2, size=32),
                          data_prefix=dict(img_path='images/validation',
                                           seg_map_path='annotations/validation'),
                          pipeline=[])
    assert len(ds) == 2
    assert ds.metainfo['classes'] == TOY_CLASSES
    assert ds[0]['seg_map_path'].endswith('toy_00000.png')
