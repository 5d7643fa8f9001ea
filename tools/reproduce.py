"""Evaluate configs and print ours beside the published mIoU of their protocol cards.

    python tools/reproduce.py CONFIG [CONFIG ...] [--data-root DIR]
                              [--checkpoint NAME=PATH ...] [--work-dir DIR] [--json PATH]
                              [--strict]

Training-free configs (ProxyCLIP) are evaluated directly; configs whose card says
``needs_checkpoint`` (trained methods, SegCLIP) need ``--checkpoint <config stem>=PATH``
and are reported as skipped otherwise. ``--data-root DIR`` replaces the configs' ``data/``.
When a dataset is missing nothing runs: the tool says what to download and where to put
it, and exits 2. The table is printed either way it runs; exit 0, or 1 with ``--strict``
when a row is outside its tolerance.

Example:
    python tools/reproduce.py configs/proxyclip/proxyclip_vit-b16-dino-b8_{voc21,context60}.py
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Reproduce published numbers')
    parser.add_argument('configs', nargs='+', help='evaluation configs (with protocol cards)')
    parser.add_argument('--data-root', help="the folder that replaces the configs' data/")
    parser.add_argument('--checkpoint', action='append', default=[], metavar='NAME=PATH',
                        help='checkpoint of the config whose file stem is NAME')
    parser.add_argument('--work-dir', default='work_dirs/reproduce')
    parser.add_argument('--json', help='also write the rows as JSON')
    parser.add_argument('--strict', action='store_true',
                        help='exit 1 when a row is outside its tolerance')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    from langseg.engine.reproduce import parse_checkpoints, plan, reproduce, table
    from langseg.utils.errors import DataError
    checkpoints = parse_checkpoints(args.checkpoint)
    _, problems = plan(args.configs, args.data_root)
    if problems:
        print('The data is not in place; nothing was evaluated. For each config:')
        print('\n'.join(problems))
        raise DataError(f'{len(problems)} config(s) have no test data in place: download and '
                        'place it as printed above (or pass --data-root)')
    rows = reproduce(args.configs, args.data_root, checkpoints, args.work_dir)
    print(table(rows))
    if args.json:
        from langseg.engine.atomic_io import atomic_write_json
        atomic_write_json(args.json, [dict(r.__dict__, result=r.result) for r in rows],
                          indent=2)
    failed = any(r.result == 'FAIL' for r in rows)
    return 1 if args.strict and failed else 0


if __name__ == '__main__':
    from langseg.utils.errors import run_cli
    run_cli(main)
