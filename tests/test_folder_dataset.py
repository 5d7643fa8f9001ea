"""Own data without a dataset class: the toy shapes laid out as a folder of images +
masks + classes.txt train the Conv-Former template and evaluate the ProxyCLIP template
end to end through the tools; missing pieces are one-line errors."""
import os
import os.path as osp
import re
import shutil

import pytest

from langseg.datasets.toy_shapes import TOY_CLASSES

from .conftest import REPO, run_tool, write_config

CONVFORMER = osp.join(REPO, 'configs/folder/convformer_mobilenetv2-tiny_1xb8-1000_folder-96x96.py')
PROXYCLIP = osp.join(REPO, 'configs/folder/proxyclip_vit-b16-dino-b8_folder.py')


@pytest.fixture(scope='module')
def folder(tmp_path_factory, ) -> str:
    from langseg.datasets.toy_shapes import generate_toy_shapes
    base = tmp_path_factory.mktemp('folder')
    toy = str(base / 'toy')
    generate_toy_shapes(toy, num_train=16, num_val=4, size=64, seed=3, progress=False)
    root = base / 'my_data'
    for split, toy_split in (('train', 'training'), ('val', 'validation')):
        (root / 'images' / split).mkdir(parents=True)
        (root / 'masks' / split).mkdir(parents=True)
        for name in sorted(os.listdir(osp.join(toy, 'images', toy_split))):
            shutil.copy(osp.join(toy, 'images', toy_split, name), root / 'images' / split)
            mask = name.replace('.jpg', '.png')
            shutil.copy(osp.join(toy, 'annotations', toy_split, mask), root / 'masks' / split)
    (root / 'classes.txt').write_text('\n'.join(TOY_CLASSES) + '\n')
    return str(root)


def test_dataset_lists_images_masks_and_classes(folder):
    import langseg  # noqa: F401
    from langseg.datasets import FolderSegDataset
    ds = FolderSegDataset(data_root=folder, split='val', pipeline=[])
    assert len(ds) == 4 and ds.metainfo['classes'] == TOY_CLASSES
    item = ds.get_data_info(0)
    assert item['img_path'].endswith('images/val/toy_00000.jpg')
    assert item['seg_map_path'].endswith('masks/val/toy_00000.png')


def test_the_folder_trains_the_convformer_template(folder, tmp_path):
    body = f"""
    data_root = {folder!r}
    model = dict(class_names=data_root + '/classes.txt')
    train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                            dataset=dict(data_root=data_root))
    val_dataloader = dict(num_workers=0, persistent_workers=False,
                          dataset=dict(data_root=data_root, split='val'))
    test_dataloader = val_dataloader
    train_cfg = dict(max_iters=4, val_interval=4)
    param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=4,
                            by_epoch=False)]
    default_hooks = dict(logger=dict(interval=2), checkpoint=dict(interval=4))
    """
    config = write_config(str(tmp_path / 'cfg.py'), CONVFORMER, body)
    proc = run_tool('train.py', config, '--work-dir', str(tmp_path / 'work'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert re.search(r'Iter\(val\) .*mIoU: [\d.]+', out), out[-2000:]
    assert 'decode.loss_ce' in out


def test_the_folder_evaluates_the_proxyclip_template(folder, tmp_path):
    body = f"""
    data_root = {folder!r}
    model = dict(class_names=data_root + '/classes.txt', templates='a photo of a {{}}.',
                 clip=dict(arch='tiny-vit', pretrained=None), slide_crop=56,
                 slide_stride=28,
                 vfm=dict(name=None, model_name='vit_small_patch8_224.dino',
                          pretrained=None, model_kwargs=dict(depth=1, embed_dim=32,
                                                             num_heads=2)))
    test_dataloader = dict(num_workers=0, persistent_workers=False,
                           dataset=dict(data_root=data_root))
    val_dataloader = test_dataloader
    """
    config = write_config(str(tmp_path / 'cfg.py'), PROXYCLIP, body)
    proc = run_tool('test.py', config, '--work-dir', str(tmp_path / 'work'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r'mIoU: [\d.]+', proc.stdout + proc.stderr)


def test_missing_pieces_are_one_line_errors(folder, tmp_path):
    broken = tmp_path / 'broken'
    shutil.copytree(folder, broken)
    os.remove(broken / 'masks' / 'val' / 'toy_00001.png')
    body = f"""
    data_root = {str(broken)!r}
    model = dict(class_names=data_root + '/classes.txt', templates='a {{}}',
                 clip=dict(arch='tiny-vit', pretrained=None),
                 vfm=dict(name=None, model_name='vit_small_patch8_224.dino',
                          pretrained=None, model_kwargs=dict(depth=1, embed_dim=32,
                                                             num_heads=2)))
    test_dataloader = dict(num_workers=0, persistent_workers=False,
                           dataset=dict(data_root=data_root))
    val_dataloader = test_dataloader
    """
    config = write_config(str(tmp_path / 'cfg.py'), PROXYCLIP, body)
    proc = run_tool('test.py', config, '--work-dir', str(tmp_path / 'work'))
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: image ') and 'has no mask' in last, last
    os.remove(broken / 'classes.txt')
    proc = run_tool('test.py', config, '--work-dir', str(tmp_path / 'work'))
    assert proc.returncode == 2
    assert 'classes.txt does not exist' in proc.stderr.strip().splitlines()[-1]
