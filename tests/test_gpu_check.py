"""benchmarks/gpu_check.sh: the prepared CUDA check runs end to end in --smoke mode on the
CPU (tiny models), writing its JSON and Markdown table; without CUDA and without --smoke
it refuses with one line."""
import json
import os
import os.path as osp
import subprocess
import sys

from .conftest import REPO, tool_env


def test_gpu_check_smoke_writes_the_table(tmp_path):
    out = tmp_path / 'check'
    proc = subprocess.run([osp.join(REPO, 'benchmarks/gpu_check.sh'), str(out), '--smoke'],
                          capture_output=True, text=True, timeout=600, env=tool_env(),
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / 'gpu_check.json').read_text())
    jobs = [r['job'] for r in data['rows']]
    assert jobs[:4] == ['DenseCLIP RN50', 'Conv-Former MobileNetV2', 'CLIP-SP RN50',
                        'SegCLIP ViT-B/16']
    for row in data['rows'][:4]:
        assert row['loss_finite'] and row['seconds_per_iter'] > 0
    speed = data['rows'][4]
    assert speed['images_per_second'] > 0 and speed['label_agreement_with_fp32'] == 1.0
    table = (out / 'gpu_check.md').read_text()
    assert '| SegCLIP ViT-B/16 |' in table and 'images / s' in table


def test_gpu_check_without_cuda_refuses(tmp_path):
    env = dict(tool_env(), CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([sys.executable, 'benchmarks/gpu_check.py', '--out',
                           str(tmp_path / 'x')], capture_output=True, text=True,
                          timeout=300, env=env, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith('error: benchmarks/gpu_check.py '
                                                           'needs a CUDA device')
    assert not os.path.exists(tmp_path / 'x')
