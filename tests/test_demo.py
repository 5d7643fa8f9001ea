"""The main job (`make demo`): train the demo config on CPU, reach mIoU >= 70."""
import os.path as osp
import re

import pytest

from .conftest import REPO, run_tool


def _demo_config() -> str:
    with open(osp.join(REPO, 'Makefile')) as f:
        return re.search(r'^DEMO_CONFIG := (\S+)', f.read(), re.M).group(1)


@pytest.mark.slow
def test_demo_reaches_miou_70(tmp_path):
    config = osp.join(REPO, _demo_config())
    proc = run_tool('train.py', config, '--work-dir', str(tmp_path / 'demo'), timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = [float(m) for m in re.findall(r'Iter\(val\) .*mIoU: ([\d.]+)',
                                           proc.stdout + proc.stderr)]
    assert scores, 'no validation ran'
    print(f'demo validation mIoU: {scores}')
    assert scores[-1] >= 70.0
