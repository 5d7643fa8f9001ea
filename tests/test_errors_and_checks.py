"""One-line errors and up-front data checks."""
import pytest

from langseg.datasets.checks import check_data_roots, check_dataset_cfg
from langseg.utils.errors import DataError, LangsegError, one_line, run_cli


def test_one_line_unwraps_dataloader_worker_errors():
    wrapped = ('Caught DataError in DataLoader worker process 0.\nOriginal Traceback (most '
               'recent call last):\n  File "x.py", line 1, in f\nlangseg.utils.errors.'
               'DataError: cannot decode image /d/a.jpg: corrupt')
    assert one_line(DataError(wrapped)) == 'cannot decode image /d/a.jpg: corrupt'
    assert one_line(ValueError('a\n  b')) == 'a b'


def test_run_cli_exit_codes(capsys):
    def bad():
        raise LangsegError('what was wrong: what was expected')

    with pytest.raises(SystemExit) as exit_info:
        run_cli(bad)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == 'error: what was wrong: what was expected\n'
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: None)
    assert exit_info.value.code == 0
    with pytest.raises(ZeroDivisionError):  # bugs keep their traceback
        run_cli(lambda: 1 / 0)


def test_voc_split_file_and_concat_datasets(tmp_path):
    root = tmp_path / 'VOC2012'
    (root / 'JPEGImages').mkdir(parents=True)
    (root / 'JPEGImages' / 'a.jpg').write_bytes(b'x')
    voc = dict(type='PascalVOCDataset', data_root=str(root),
               data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
               ann_file='ImageSets/Segmentation/train.txt')
    with pytest.raises(DataError, match='split file .*train.txt of PascalVOCDataset'):
        check_dataset_cfg(voc)
    (root / 'ImageSets' / 'Segmentation').mkdir(parents=True)
    (root / 'ImageSets' / 'Segmentation' / 'train.txt').write_text('a\n')
    check_dataset_cfg(voc)
    aug = dict(voc, data_root=str(tmp_path / 'missing'))
    cfg = dict(train_dataloader=dict(dataset=dict(type='ConcatDataset', datasets=[voc, aug])))
    with pytest.raises(DataError, match='missing of PascalVOCDataset does not exist'):
        check_data_roots(cfg)


def test_cityscapes_images_in_city_subfolders(tmp_path):
    city = tmp_path / 'leftImg8bit' / 'val' / 'lindau'
    city.mkdir(parents=True)
    ds = dict(type='CityscapesDataset', data_root=str(tmp_path),
              data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'))
    with pytest.raises(DataError, match='holds no _leftImg8bit.png images'):
        check_dataset_cfg(ds)
    (city / 'lindau_000000_000019_leftImg8bit.png').write_bytes(b'x')
    check_dataset_cfg(ds)
