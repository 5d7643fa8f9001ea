"""Print the validation metrics of finished training runs side by side.

    python tools/compare_runs.py NAME=WORK_DIR [NAME=WORK_DIR ...] [--metric mIoU]

Reads the last validation entry of each run's ``vis_data/scalars.json`` (written by
mmengine during training) and prints one markdown row per run.
"""
from __future__ import annotations

import argparse
import glob
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from langseg.utils.errors import DataError, run_cli  # noqa: E402


def last_validation(work_dir: str, metric: str) -> tuple[float, int]:
    """(metric value, iteration) of the last validation logged in ``work_dir``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise DataError(f'{work_dir} holds no */vis_data/scalars.json: expected the work dir '
                        'of a finished tools/train.py run')
    value, step = None, None
    with open(files[-1]) as f:
        for line in f:
            entry = json.loads(line)
            if metric in entry:
                value, step = float(entry[metric]), int(entry.get('step', -1))
    if value is None:
        raise DataError(f'{files[-1]} has no {metric!r} entry: expected a run that validated')
    return value, step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='Compare the last validation of runs')
    parser.add_argument('runs', nargs='+', help='NAME=WORK_DIR')
    parser.add_argument('--metric', default='mIoU')
    args = parser.parse_args(argv)
    rows = []
    for run in args.runs:
        name, sep, work_dir = run.partition('=')
        if not sep:
            raise DataError(f'run {run!r} is not NAME=WORK_DIR')
        rows.append((name, *last_validation(work_dir, args.metric)))
    print(f'| run | {args.metric} | at iteration |')
    print('|---|---|---|')
    for name, value, step in rows:
        print(f'| {name} | {value:.2f} | {step} |')
    return 0


if __name__ == '__main__':
    run_cli(main)
