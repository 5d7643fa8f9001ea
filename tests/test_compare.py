"""tools/compare.py: methods found from the config folders (a new method folder appears
without code changes), one table of ours / published / difference with averages, images/s
and peak memory on generated data in the real folder layouts, JSON written; what to put
where when the data is missing (exit 2)."""
from __future__ import annotations

import json
import os
import os.path as osp
import re

from .conftest import REPO, run_tool, write_config
from .test_proxyclip_benchmarks import make_dataset

#: tiny towers for the ProxyCLIP configs (their VFM replaced by a one-block ViT)
TINY_PROXY = """
model = dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None, model_name='vit_small_patch8_224',
             pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    templates='a photo of a {}.', slide_crop=48, slide_stride=32)
test_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = test_dataloader
"""
#: tiny CLIP for MaskCLIP (no VFM)
TINY_CLIP = """
model = dict(clip=dict(arch='tiny-vit', pretrained=None), templates='a photo of a {}.',
             slide_crop=48, slide_stride=32)
test_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = test_dataloader
"""


def _config_dir(tmp_path) -> str:
    """A configs/ folder of tiny versions of shipped configs, named as the shipped ones,
    plus a method that exists only here ('newmethod', ProxyCLIP's config under its name)."""
    root = tmp_path / 'configs'
    (root / 'proxyclip').mkdir(parents=True)
    (root / 'newmethod').mkdir()
    shipped = osp.join(REPO, 'configs', 'proxyclip')
    for bench in ('voc21', 'coco-stuff', 'ade20k'):
        name = f'proxyclip_vit-b16-dino-b8_{bench}.py'
        write_config(str(root / 'proxyclip' / name), osp.join(shipped, name), TINY_PROXY)
    # a second ProxyCLIP architecture on voc21: not the default (it covers fewer benchmarks)
    write_config(str(root / 'proxyclip' / 'proxyclip_vit-h14-dino-b8_voc21.py'),
                 osp.join(shipped, 'proxyclip_vit-h14-dino-b8_voc21.py'), TINY_PROXY)
    write_config(str(root / 'proxyclip' / 'maskclip_vit-b16_coco-stuff.py'),
                 osp.join(shipped, 'maskclip_vit-b16_coco-stuff.py'), TINY_CLIP)
    write_config(str(root / 'newmethod' / 'newmethod_vit-b16_voc21.py'),
                 osp.join(shipped, 'proxyclip_vit-b16-dino-b8_voc21.py'),
                 TINY_PROXY + "protocol = dict(published_miou=50.0, source='A et al., "
                 "Venue 2099 (arXiv:0000.00000)')\n")
    os.symlink(osp.join(REPO, 'configs', '_base_'), root / '_base_')
    return str(root)


def test_methods_come_from_the_config_folders():
    from langseg.engine.compare import default_config, find_method_configs
    found = find_method_configs(osp.join(REPO, 'configs'))
    assert {'proxyclip', 'maskclip'} <= set(found)
    assert 'denseclip' not in found        # its configs name no open-vocabulary benchmark
    pick = default_config(found['proxyclip'], 'voc21')
    assert osp.basename(pick) == 'proxyclip_vit-b16-dino-b8_voc21.py'   # not the ViT-H one
    assert osp.basename(default_config(found['proxyclip'], 'coco-object')) == \
        'proxyclip_vit-b16-dino-b8_coco-object.py'       # not dino-b16 / sam-b / unet
    assert default_config(found['maskclip'], 'voc21') is None
    assert osp.basename(default_config(found['maskclip'], 'coco-stuff')) == \
        'maskclip_vit-b16_coco-stuff.py'


def test_compare_prints_one_table_on_generated_data(tmp_path):
    data = tmp_path / 'data'
    make_dataset(str(data / 'VOCdevkit' / 'VOC2012'), 'voc21')
    make_dataset(str(data / 'coco_stuff164k'), 'coco-stuff')
    config_dir = _config_dir(tmp_path)
    out_json = tmp_path / 'out' / 'compare.json'
    # ADE20K has a config but no data: the others run, the table says so, exit 2
    proc = run_tool('compare.py', '--methods', 'proxyclip', 'maskclip', 'newmethod',
                    '--benchmarks', 'voc21', 'coco-stuff', 'ade20k', '--config-dir',
                    config_dir, '--data-root', str(data), '--work-dir',
                    str(tmp_path / 'work'), '--json', str(out_json), timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: 1 benchmark(s) have no test data in place (the table '
                           'has the others)'), last
    out = proc.stdout
    assert '| method |  | voc21 | coco-stuff | ade20k | average | images/s | ' \
           'peak memory (MiB) |' in out
    ours = re.search(r'\| proxyclip \| ours \| ([\d.]+) \| ([\d.]+) \| - \| ([\d.]+) \| '
                     r'([\d.e+-]+) \| (\d+) \(RSS\) \|', out)
    assert ours, out[-3000:]
    voc, stuff, avg = (float(ours.group(i)) for i in (1, 2, 3))
    assert abs((voc + stuff) / 2 - avg) < 0.011
    assert float(ours.group(4)) > 0 and int(ours.group(5)) > 100      # images/s, MiB
    # published: the shipped cards (ProxyCLIP paper: 61.3 VOC21, 26.5 COCO-Stuff)
    assert '| proxyclip | published | 61.30 | 26.50 | 20.20 | 43.90 | | |' in out
    diff = re.search(r'\| proxyclip \| difference \| ([+-][\d.]+) \| ([+-][\d.]+) \| - \| '
                     r'([+-][\d.]+) \|', out)
    assert abs(float(diff.group(1)) - (voc - 61.3)) < 0.011
    assert abs(float(diff.group(3)) - (avg - 43.9)) < 0.011
    # MaskCLIP has no VOC21 config: its average is its one benchmark
    mask = re.search(r'\| maskclip \| ours \| - \| ([\d.]+) \| - \| ([\d.]+) \|', out)
    assert mask and mask.group(1) == mask.group(2), out[-3000:]
    assert '| maskclip | published | - | 12.51 | - | 12.51 | | |' in out
    assert '- maskclip / voc21: no config' in out
    assert '- proxyclip / ade20k: no data (proxyclip_vit-b16-dino-b8_ade20k.py)' in out
    assert '- proxyclip / voc21: outside the tolerance of its card (+-1)' in out
    assert 'ADEChallengeData2016.zip' in out and \
        f'place: {data}/ade/ADEChallengeData2016' in out
    # a method folder that exists only in the config dir is a method like the others
    assert re.search(r'\| newmethod \| ours \| [\d.]+ \| - \| - \|', out), out[-3000:]
    assert '| newmethod | published | 50.00 | - | - | 50.00 | | |' in out
    assert 'source: A et al., Venue 2099 (arXiv:0000.00000)' in out
    assert 'source: Lan et al., ECCV 2024 (arXiv:2408.04883), Table 1' in out
    rows = json.loads(out_json.read_text())
    by = {(r['method'], r['benchmark']): r for r in rows['runs']}
    assert osp.basename(by['proxyclip', 'voc21']['config']) == \
        'proxyclip_vit-b16-dino-b8_voc21.py'
    assert by['proxyclip', 'voc21']['images'] == 2
    assert abs(by['proxyclip', 'voc21']['ours'] - voc) < 0.006
    assert by['maskclip', 'voc21']['status'] == 'no config'
    assert by['proxyclip', 'ade20k']['status'] == 'no data'
    assert by['proxyclip', 'voc21']['result'] == 'FAIL'      # random tiny towers
    assert set(rows['missing_data']) == {'ade20k'}
    summary = {m['method']: m for m in rows['methods']}
    assert abs(summary['proxyclip']['published_average'] - 43.9) < 1e-9
    assert summary['proxyclip']['images_per_second'] > 0
    assert not [p for p in os.listdir(out_json.parent) if '.tmp-' in p]   # atomic write


def test_compare_without_data_says_what_to_put_where(tmp_path):
    empty = tmp_path / 'nothing'
    empty.mkdir()
    proc = run_tool('compare.py', '--methods', 'proxyclip', 'maskclip', '--benchmarks',
                    'voc21', 'voc20', 'ade20k', '--data-root', str(empty))
    assert proc.returncode == 2, proc.stderr[-3000:]
    out = proc.stdout
    assert 'nothing was evaluated' in out
    assert 'VOCtrainval_11-May-2012.tar' in out
    assert f'place: {empty}/VOCdevkit/VOC2012' in out
    assert f'place: {empty}/ade/ADEChallengeData2016' in out
    assert out.count('download:') == 3            # once per benchmark, not per method
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: 3 benchmark(s) have no test data in place'), last
