"""The eight ProxyCLIP benchmark configs run `tools/test.py` (no checkpoint) end to end on
small generated datasets in each benchmark's folder layout, with random tiny models; and
the COCO-Object converter maps COCO-Stuff ids as the official ProxyCLIP code does."""
import os
import os.path as osp
import re

import numpy as np
import pytest
from PIL import Image

from .conftest import REPO, run_tool, write_config

# benchmark: (image dir, label dir, image suffix, label suffix, split file, label range)
LAYOUTS = {
    'voc21': ('JPEGImages', 'SegmentationClass', '.jpg', '.png',
              'ImageSets/Segmentation/val.txt', 21),
    'voc20': ('JPEGImages', 'SegmentationClass', '.jpg', '.png',
              'ImageSets/Segmentation/val.txt', 21),
    'context60': ('JPEGImages', 'SegmentationClassContext', '.jpg', '.png',
                  'ImageSets/SegmentationContext/val.txt', 60),
    'context59': ('JPEGImages', 'SegmentationClassContext', '.jpg', '.png',
                  'ImageSets/SegmentationContext/val.txt', 60),
    'coco-object': ('images/val2017', 'annotations/val2017', '.jpg', '_instanceTrainIds.png',
                    None, 81),
    'coco-stuff': ('images/val2017', 'annotations/val2017', '.jpg', '_labelTrainIds.png',
                   None, 171),
    'cityscapes': ('leftImg8bit/val/frankfurt', 'gtFine/val/frankfurt', '_leftImg8bit.png',
                   '_gtFine_labelTrainIds.png', None, 19),
    'ade20k': ('images/validation', 'annotations/validation', '.jpg', '.png', None, 151),
}

TINY_MODEL = """
model = dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None, model_name='vit_small_patch8_224',
             pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    templates='a photo of a {{}}.', slide_crop=48, slide_stride=32)
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root='{root}'))
val_dataloader = test_dataloader
"""


def make_dataset(root: str, benchmark: str, n: int = 2) -> None:
    img_dir, seg_dir, img_suf, seg_suf, split, num_labels = LAYOUTS[benchmark]
    rng = np.random.default_rng(0)
    names = [f'img{i}' for i in range(n)]
    for d in (img_dir, seg_dir):
        os.makedirs(osp.join(root, d), exist_ok=True)
    for i, name in enumerate(names):
        h, w = (40, 64) if i % 2 == 0 else (56, 44)
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
            osp.join(root, img_dir, name + img_suf))
        label = rng.integers(0, num_labels, (h, w)).astype(np.uint8)
        label[:3, :3] = 255
        Image.fromarray(label).save(osp.join(root, seg_dir, name + seg_suf))
    if split:
        os.makedirs(osp.dirname(osp.join(root, split)), exist_ok=True)
        with open(osp.join(root, split), 'w') as f:
            f.write('\n'.join(names) + '\n')


@pytest.mark.parametrize('benchmark', sorted(LAYOUTS))
def test_benchmark_config_evaluates_end_to_end(benchmark, tmp_path):
    root = str(tmp_path / 'data')
    make_dataset(root, benchmark)
    config = write_config(str(tmp_path / 'cfg.py'),
                          osp.join(REPO, 'configs', 'proxyclip',
                                   f'proxyclip_vit-b16-dino-b8_{benchmark}.py'),
                          TINY_MODEL.format(root=root))
    proc = run_tool('test.py', config, '--work-dir', str(tmp_path / 'work'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    miou = re.findall(r'mIoU: ([\d.]+)', out)
    assert miou, out[-2000:]
    assert 0.0 <= float(miou[-1]) <= 100.0


def test_coco_object_converter(tmp_path):
    folder = tmp_path / 'annotations' / 'val2017'
    folder.mkdir(parents=True)
    raw = np.array([[0, 11, 12, 89], [90, 91, 181, 255]], dtype=np.uint8)
    Image.fromarray(raw).save(folder / '000001.png')
    Image.fromarray(raw).save(folder / '000001_labelTrainIds.png')  # must be left alone
    proc = subprocess_converter(str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = np.asarray(Image.open(folder / '000001_instanceTrainIds.png'))
    # person (0) -> 1; raw 11 is a missing COCO id -> 0; raw 12 (stop sign) -> 12;
    # raw 89 (toothbrush) -> 80; 90 and above (stuff, unlabeled) -> 0
    assert out.tolist() == [[1, 0, 12, 80], [0, 0, 0, 0]]
    assert not (folder / '000001_labelTrainIds_instanceTrainIds.png').exists()
    bad = subprocess_converter(str(tmp_path / 'missing'))
    assert bad.returncode == 2 and bad.stderr.strip().startswith('error:')


def subprocess_converter(root: str):
    import subprocess
    import sys
    return subprocess.run([sys.executable, osp.join(REPO, 'tools', 'dataset_converters',
                                                    'coco_object.py'), root, '--splits',
                           'val2017', '--nproc', '1'], capture_output=True, text=True,
                          timeout=300)
