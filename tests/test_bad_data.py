"""Bad data files: one ``error:`` line naming the file, exit 2, nothing half-written.

Three cases, for ``tools/train.py`` and ``tools/test.py``: an empty (0-byte) image, a label
map of another size than its image, and a label value (136) that is no class of the
10-class toy dataset. Plus the checked transforms and the pipeline rewrite as units.
"""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from langseg.datasets.checked_pipeline import (data_checks_options, dataset_label_info,
                                                install_checked_loading)
from langseg.datasets.checks import check_dataset_cfg, check_no_empty_images
from langseg.datasets.toy_shapes import generate_toy_shapes
from langseg.datasets.transforms import CheckedLoadAnnotations, CheckedLoadImageFromFile
from langseg.utils.errors import ConfigError, DataError

from .conftest import TOY_CONFIG, run_tool, write_config

#: A smaller toy set than conftest's: one batch of 8 holds every training image, so the
#: corrupted file is read in the first iteration whatever the shuffle.
SMALL_TOY = dict(num_train=8, num_val=4, size=64, seed=1)
BAD_NAME = 'toy_00003'


def _loaders_body(root: str, num_workers: int) -> str:
    persistent = num_workers > 0
    return f"""
    toy = {SMALL_TOY!r}
    train_dataloader = dict(batch_size=8, num_workers={num_workers},
                            persistent_workers={persistent},
                            dataset=dict(data_root={root!r}, generate=toy))
    val_dataloader = dict(num_workers={num_workers}, persistent_workers={persistent},
                          dataset=dict(data_root={root!r}, generate=toy))
    test_dataloader = val_dataloader
    """


def train_config(tmp_path, root: str, num_workers: int = 0) -> str:
    """Two iterations, a checkpoint after every one: an error in the first batch must
    come before any checkpoint is written."""
    return write_config(str(tmp_path / 'train_cfg.py'), TOY_CONFIG, _loaders_body(
        root, num_workers) + """
    model = dict(data_preprocessor=dict(size=(64, 64)))
    train_cfg = dict(max_iters=2, val_interval=2)
    param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=2,
                            by_epoch=False)]
    default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
    """)


def eval_config(tmp_path, trained_toy, root: str, num_workers: int = 0) -> str:
    return write_config(str(tmp_path / 'test_cfg.py'), trained_toy['config'],
                        _loaders_body(root, num_workers))


# ------------------------------------------------------------------ corruptions

def _make_empty(path: str) -> None:
    open(path, 'wb').close()


def _resize_label(path: str) -> None:
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert label.shape == (64, 64)
    cv2.imwrite(path, cv2.resize(label, (48, 40), interpolation=cv2.INTER_NEAREST))


def _bad_value(path: str) -> None:
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    label[:5, :5] = 136
    cv2.imwrite(path, label)


#: case -> (folder, suffix, corruption, fragments of the error line besides the path)
CASES = {
    'empty_image': ('images', '.jpg', _make_empty,
                    ('cannot decode image', 'the file is empty (0 bytes)',
                     'expected a readable image file')),
    'label_size': ('annotations', '.png', _resize_label,
                   ('label map', 'is 40x48 (HxW)', 'is 64x64',
                    'expected a label map of the same size as its image')),
    'label_value': ('annotations', '.png', _bad_value,
                    ('label map', 'holds values 136 that are no class',
                     'expected 0..9 or 255 (ignored)', 'for the 10 classes')),
}


def corrupt_toy(tmp_path, case: str, split: str) -> tuple[str, str, tuple[str, ...]]:
    """A small generated toy root with one file of ``split`` corrupted; returns the root,
    the corrupted path and the fragments the error line must hold."""
    root = str(tmp_path / 'toy')
    generate_toy_shapes(root, progress=False, **SMALL_TOY)
    folder, suffix, corrupt, fragments = CASES[case]
    path = osp.join(root, folder, split, BAD_NAME + suffix)
    corrupt(path)
    return root, path, fragments


def assert_error_line(proc, *fragments: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    last = lines[-1]
    assert last.startswith('error: '), proc.stderr[-3000:]
    assert len([line for line in lines if line.startswith('error:')]) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in last, (fragment, last)
    return last


def _checkpoints(work_dir) -> list[str]:
    return [f for _, _, files in os.walk(work_dir) for f in files if f.endswith('.pth')] \
        if osp.isdir(work_dir) else []


# ------------------------------------------------------------- tools end to end

@pytest.mark.parametrize('case,num_workers', [('empty_image', 0), ('label_size', 0),
                                              ('label_value', 0), ('label_value', 2)])
def test_train_stops_on_bad_data_before_any_checkpoint(tmp_path, case, num_workers):
    root, path, fragments = corrupt_toy(tmp_path, case, 'training')
    work = tmp_path / 'work'
    proc = run_tool('train.py', train_config(tmp_path, root, num_workers), '--work-dir',
                    str(work))
    line = assert_error_line(proc, path, *fragments)
    print(line)
    assert not _checkpoints(work), _checkpoints(work)
    assert not (work / 'last_checkpoint').exists()


@pytest.mark.parametrize('case,num_workers', [('empty_image', 0), ('label_size', 0),
                                              ('label_value', 0), ('label_size', 2)])
def test_test_stops_on_bad_data_and_writes_no_predictions(tmp_path, trained_toy, case,
                                                          num_workers):
    root, path, fragments = corrupt_toy(tmp_path, case, 'validation')
    out = tmp_path / 'preds'
    proc = run_tool('test.py', eval_config(tmp_path, trained_toy, root, num_workers),
                    trained_toy['checkpoint'], '--work-dir', str(tmp_path / 'work'),
                    '--out', str(out))
    line = assert_error_line(proc, path, *fragments)
    print(line)
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if '.partial-' in p]


def test_invalid_labels_ignore_lets_the_test_run(tmp_path, trained_toy):
    root, _, _ = corrupt_toy(tmp_path, 'label_value', 'validation')
    cfg = write_config(str(tmp_path / 'ignore.py'), eval_config(tmp_path, trained_toy, root),
                       "data_checks = dict(invalid_labels='ignore')\n")
    proc = run_tool('test.py', cfg, trained_toy['checkpoint'], '--work-dir',
                    str(tmp_path / 'work'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    assert 'holds values 136 that are no class: set to ignore_index 255' in text
    assert 'mIoU' in text


def test_normal_runs_use_the_checked_loaders(trained_toy):
    """The toy run of conftest went through the checked transforms (the runner dumps the
    config it was given to the work dir)."""
    dumped = [f for f in os.listdir(trained_toy['work_dir']) if f.endswith('.py')]
    assert dumped, os.listdir(trained_toy['work_dir'])
    cfg = Config.fromfile(osp.join(trained_toy['work_dir'], dumped[0]))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = cfg[key].dataset.pipeline
        types = [t['type'] for t in pipeline]
        assert types[:2] == ['CheckedLoadImageFromFile', 'CheckedLoadAnnotations'], types
        assert pipeline[1]['num_classes'] == 10 and pipeline[1]['ignore_index'] == 255
        assert pipeline[1]['invalid_labels'] == 'error'


# --------------------------------------------------------------------- units

def _seg_results(path: str, shape=(64, 64)) -> dict:
    return dict(seg_map_path=path, reduce_zero_label=False, seg_fields=[],
                img_path='img.jpg', ori_shape=shape)


def test_checked_annotations_error_and_ignore(tmp_path):
    label = np.full((6, 7), 3, np.uint8)
    label[0, :3] = 136
    label[1, 0] = 255
    label[2, 0] = 10
    path = str(tmp_path / 'a.png')
    cv2.imwrite(path, label)
    strict = CheckedLoadAnnotations(num_classes=10, ignore_index=255)
    with pytest.raises(DataError, match=r'a.png holds values 10, 136 that are no class: '
                                        r'expected 0..9 or 255 \(ignored\)'):
        strict(_seg_results(path, (6, 7)))
    lenient = CheckedLoadAnnotations(num_classes=10, ignore_index=255,
                                     invalid_labels='ignore')
    gt = lenient(_seg_results(path, (6, 7)))['gt_seg_map']
    expected = label.copy()
    expected[(label == 136) | (label == 10)] = 255
    np.testing.assert_array_equal(gt, expected)
    # No num_classes: values are not checked; no ori_shape: the size is not checked.
    unchecked = CheckedLoadAnnotations()
    results = _seg_results(path)
    del results['ori_shape']
    np.testing.assert_array_equal(unchecked(results)['gt_seg_map'], label)
    with pytest.raises(DataError, match=r'a.png is 6x7 \(HxW\) but its image img.jpg is '
                                        r'64x64: expected a label map of the same size'):
        unchecked(_seg_results(path))
    with pytest.raises(ValueError, match='invalid_labels'):
        CheckedLoadAnnotations(invalid_labels='skip')


def test_checked_annotations_after_reduce_zero_label(tmp_path):
    """ADE20K-style: 0 -> 255, k -> k - 1, checked against num_classes afterwards."""
    label = np.array([[0, 1, 150], [150, 151, 2]], np.uint8)
    path = str(tmp_path / 'ade.png')
    cv2.imwrite(path, label)
    results = dict(_seg_results(path, (2, 3)), reduce_zero_label=True)
    with pytest.raises(DataError, match='holds values 150 that are no class: expected '
                                        r'0..149 or 255'):
        CheckedLoadAnnotations(num_classes=150)(dict(results))
    label[1, 1] = 149
    cv2.imwrite(path, label)
    gt = CheckedLoadAnnotations(num_classes=150)(dict(results, seg_fields=[]))['gt_seg_map']
    np.testing.assert_array_equal(gt, [[255, 0, 149], [149, 148, 1]])


def test_checked_annotations_unreadable_label(tmp_path):
    path = tmp_path / 'empty.png'
    path.write_bytes(b'')
    with pytest.raises(DataError, match='cannot decode label map .*empty.png: the file is '
                                        r'empty \(0 bytes\)'):
        CheckedLoadAnnotations(num_classes=10)(_seg_results(str(path)))


def test_checked_image_loader(tmp_path):
    good = str(tmp_path / 'good.jpg')
    cv2.imwrite(good, np.zeros((5, 4, 3), np.uint8))
    results = CheckedLoadImageFromFile()(dict(img_path=good))
    assert results['ori_shape'] == (5, 4)
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(DataError, match=r'cannot decode image .*empty.jpg: the file is '
                                        r'empty \(0 bytes\); expected a readable image'):
        CheckedLoadImageFromFile()(dict(img_path=str(empty)))
    junk = tmp_path / 'junk.jpg'
    junk.write_bytes(b'\x00 not a jpeg')
    for backend in ('cv2', 'pillow'):
        with pytest.raises(DataError, match=r'junk.jpg: the file is corrupt or not an '
                                            r'image'):
            CheckedLoadImageFromFile(imdecode_backend=backend)(dict(img_path=str(junk)))
    with pytest.raises(DataError, match='missing.jpg does not exist'):
        CheckedLoadImageFromFile()(dict(img_path=str(tmp_path / 'missing.jpg')))
    assert CheckedLoadImageFromFile(ignore_empty=True)(dict(img_path=str(empty))) is None


def test_install_rewrites_every_pipeline_of_the_toy_config():
    cfg = Config.fromfile(TOY_CONFIG)
    cfg.val_dataloader.dataset.pipeline[0]['imdecode_backend'] = 'pillow'
    assert install_checked_loading(cfg)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = cfg[key].dataset.pipeline
        assert pipeline[0]['type'] == 'CheckedLoadImageFromFile'
        assert dict(pipeline[1]) == dict(type='CheckedLoadAnnotations', num_classes=10,
                                         ignore_index=255, invalid_labels='error')
    assert cfg.val_dataloader.dataset.pipeline[0]['imdecode_backend'] == 'pillow'
    assert [t['type'] for t in cfg.train_dataloader.dataset.pipeline][2:] == \
        ['RandomFlip', 'PackSegInputs']
    assert install_checked_loading(cfg)  # idempotent
    assert cfg.test_dataloader.dataset.pipeline[1]['num_classes'] == 10


def test_install_options_and_wrapped_datasets():
    load = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations',
                                                  reduce_zero_label=True)]
    tta = [dict(type='LoadImageFromFile'),
           dict(type='TestTimeAug', transforms=[[dict(type='Resize', scale=(64, 64))],
                                                [dict(type='mmseg.LoadAnnotations')],
                                                [dict(type='PackSegInputs')]])]
    ade = dict(type='ADE20KDataset', data_root='x', pipeline=load)
    custom = dict(type='ADE20KDataset', metainfo=dict(classes=['a', 'b', 'c']),
                  ignore_index=0, pipeline=load)
    cfg = Config(dict(
        default_scope='mmseg',
        data_checks=dict(invalid_labels='ignore'),
        train_dataloader=dict(dataset=dict(type='ConcatDataset', datasets=[
            ade, dict(type='RepeatDataset', times=2, dataset=custom)])),
        val_dataloader=dict(dataset=dict(type='ToyShapesDataset', pipeline=tta)),
        test_dataloader=dict(dataset=dict(type='ToyImageTextDataset', pipeline=load))))
    install_checked_loading(cfg)
    first, repeated = cfg.train_dataloader.dataset.datasets
    assert dict(first.pipeline[1]) == dict(
        type='CheckedLoadAnnotations', reduce_zero_label=True, num_classes=150,
        ignore_index=255, invalid_labels='ignore')
    assert repeated.dataset.pipeline[1]['num_classes'] == 3
    assert repeated.dataset.pipeline[1]['ignore_index'] == 0
    val = cfg.val_dataloader.dataset.pipeline
    assert val[0]['type'] == 'CheckedLoadImageFromFile'
    assert val[1].transforms[1][0]['type'] == 'CheckedLoadAnnotations'
    assert val[1].transforms[1][0]['num_classes'] == 10
    # A dataset without classes (image-text): the values are not checked.
    assert cfg.test_dataloader.dataset.pipeline[1]['num_classes'] is None
    assert dataset_label_info(dict(type='PascalVOC20Dataset')) == (20, 255)

    off = Config(dict(data_checks=dict(enabled=False),
                      train_dataloader=dict(dataset=dict(type='ToyShapesDataset',
                                                         pipeline=[dict(load[0])]))))
    assert not install_checked_loading(off)
    assert off.train_dataloader.dataset.pipeline[0]['type'] == 'LoadImageFromFile'
    unscoped = Config(dict(train_dataloader=dict(dataset=dict(
        type='ToyShapesDataset', pipeline=[dict(load[0])]))))
    install_checked_loading(unscoped)  # no default scope: the mmseg scope is named
    assert unscoped.train_dataloader.dataset.pipeline[0]['type'] == \
        'mmseg.CheckedLoadImageFromFile'


@pytest.mark.parametrize('bad, match', [
    (dict(invalid_labels='skip'), "invalid_labels='skip': expected 'error' or 'ignore'"),
    (dict(enable=True), r"unknown keys \['enable'\]"),
    ('on', 'expected a dict'),
])
def test_data_checks_option_errors(bad, match):
    with pytest.raises(ConfigError, match=match):
        data_checks_options(dict(data_checks=bad))


def test_up_front_empty_image_check(tmp_path):
    root = tmp_path / 'VOC2012'
    (root / 'JPEGImages').mkdir(parents=True)
    (root / 'ImageSets').mkdir()
    (root / 'JPEGImages' / 'a.jpg').write_bytes(b'x')
    (root / 'JPEGImages' / 'unused.jpg').write_bytes(b'')
    (root / 'ImageSets' / 'train.txt').write_text('a\n')
    voc = dict(type='PascalVOCDataset', data_root=str(root),
               data_prefix=dict(img_path='JPEGImages'), ann_file='ImageSets/train.txt')
    check_dataset_cfg(voc)  # the empty file is not in the split
    with pytest.raises(DataError, match=r'unused.jpg: the file is empty \(0 bytes\)'):
        check_dataset_cfg(dict(voc, ann_file=None))
    check_dataset_cfg(dict(voc, ann_file=None), check_empty_files=False)
    (root / 'JPEGImages' / 'sub').mkdir()
    (root / 'JPEGImages' / 'sub' / 'b.png').write_bytes(b'')
    with pytest.raises(DataError, match=r'sub.b.png: the file is empty'):
        check_no_empty_images(str(root / 'JPEGImages'), '.png')
