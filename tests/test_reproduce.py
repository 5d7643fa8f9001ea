"""tools/reproduce.py: protocol cards on every evaluation config; the table of ours vs
published on generated data in the real folder layouts (exit 0); download and placement
instructions when the data is missing (exit 2)."""
import glob
import os.path as osp
import re

from mmengine.config import Config

from .conftest import REPO, run_tool, write_config
from .test_proxyclip_benchmarks import make_dataset

TINY = """
model = dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None, model_name='vit_small_patch8_224',
             pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    templates='a photo of a {}.', slide_crop=48, slide_stride=32)
test_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = test_dataloader
"""


def test_every_evaluation_config_has_a_protocol_card():
    paths = glob.glob(osp.join(REPO, 'configs/proxyclip/*.py')) + \
        glob.glob(osp.join(REPO, 'configs/segclip/segclip_vit-b16_[!8]*.py')) + \
        [osp.join(REPO, 'configs/denseclip', f'denseclip_clip-{b}_8xb4-80k_ade20k-{c}.py')
         for b, c in (('r50', '512x512'), ('r101', '512x512'), ('vit-b16', '640x640'))]
    assert len(paths) >= 30
    for path in paths:
        card = Config.fromfile(path).protocol
        assert {'dataset', 'published_miou', 'source', 'tolerance', 'weights'} <= set(card), path
    card = Config.fromfile(osp.join(REPO, 'configs/proxyclip/'
                                          'proxyclip_vit-b16-dino-b8_voc21.py')).protocol
    assert card.published_miou == 61.3 and 'ECCV 2024' in card.source


def test_reproduce_prints_the_table_on_generated_data(tmp_path):
    data = tmp_path / 'data'
    make_dataset(str(data / 'VOCdevkit' / 'VOC2012'), 'voc21')
    make_dataset(str(data / 'ade' / 'ADEChallengeData2016'), 'ade20k')
    configs = []
    for bench in ('voc21', 'ade20k'):
        configs.append(write_config(
            str(tmp_path / f'proxyclip_tiny_{bench}.py'),
            osp.join(REPO, f'configs/proxyclip/proxyclip_vit-b16-dino-b8_{bench}.py'), TINY))
    configs.append(write_config(str(tmp_path / 'segclip_tiny_voc21.py'),
                                osp.join(REPO, 'configs/segclip/segclip_vit-b16_voc21.py')))
    proc = run_tool('reproduce.py', *configs, '--data-root', str(data), '--work-dir',
                    str(tmp_path / 'work'), '--json', str(tmp_path / 'rows.json'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    row = re.search(r'\| proxyclip_tiny_voc21 \| voc21 \| 61.30 \| ([\d.]+) \| ([+-][\d.]+) '
                    r'\| 1.0 \| (pass|FAIL) \|', out)
    assert row, out[-2000:]
    assert abs(float(row.group(1)) - 61.3 - float(row.group(2))) < 0.011
    assert '| proxyclip_tiny_ade20k | ade20k | 20.20 |' in out
    assert 'skipped: needs a checkpoint (--checkpoint segclip_tiny_voc21=PATH)' in out
    assert 'source: Lan et al., ECCV 2024' in out


def test_reproduce_without_data_says_what_to_download_and_where(tmp_path):
    empty = tmp_path / 'nothing'
    empty.mkdir()
    proc = run_tool('reproduce.py',
                    osp.join(REPO, 'configs/proxyclip/proxyclip_vit-b16-dino-b8_voc21.py'),
                    osp.join(REPO, 'configs/proxyclip/proxyclip_vit-b16-dino-b8_ade20k.py'),
                    '--data-root', str(empty))
    assert proc.returncode == 2
    assert 'VOCtrainval_11-May-2012.tar' in proc.stdout
    assert f'place: {empty}/VOCdevkit/VOC2012' in proc.stdout
    assert 'ADEChallengeData2016.zip' in proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: 2 config(s) have no test data in place'), last
