"""The main job (`make demo`): Conv-Former and the plain Semantic FPN, same backbone,
schedule and iterations, on the toy data; Conv-Former must reach mIoU >= 62 (65.45
against the FPN's 60.54 on the reference 2-core machine) and beat the FPN."""
import os.path as osp
import re

import pytest

from .conftest import REPO, run_tool


def _makefile_value(key: str) -> str:
    with open(osp.join(REPO, 'Makefile')) as f:
        return re.search(rf'^{key}\s*:= (\S+)', f.read(), re.M).group(1)


def _train(config: str, work_dir: str) -> list[float]:
    proc = run_tool('train.py', osp.join(REPO, config), '--work-dir', work_dir, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = [float(m) for m in re.findall(r'Iter\(val\) .*mIoU: ([\d.]+)',
                                           proc.stdout + proc.stderr)]
    assert scores, 'no validation ran'
    return scores


@pytest.mark.slow
def test_demo_convformer_beats_semantic_fpn(tmp_path):
    fpn = _train(_makefile_value('DEMO_BASELINE'), str(tmp_path / 'fpn'))
    convformer = _train(_makefile_value('DEMO_CONFIG'), str(tmp_path / 'convformer'))
    print(f'validation mIoU  Semantic FPN: {fpn}  Conv-Former: {convformer}')
    proc = run_tool('compare_runs.py', f'fpn={tmp_path / "fpn"}',
                    f'convformer={tmp_path / "convformer"}')
    assert proc.returncode == 0 and f'{convformer[-1]:.2f}' in proc.stdout, proc.stderr
    assert convformer[-1] >= 62.0  # 65.45 on the reference 2-core machine (FPN 60.54)
    assert convformer[-1] > fpn[-1]
