"""Compare training-free methods on benchmarks: one table of ours vs published.

    python tools/compare.py --methods proxyclip maskclip [--benchmarks voc21 ade20k]
                            [CONFIG ...] [--data-root DIR] [--checkpoint NAME=PATH ...]
                            [--work-dir DIR] [--json PATH] [--markdown PATH]
                            [--config-dir DIR] [--allow-missing] [--strict] [--list]

``--methods`` are names of config files (``configs/<folder>/<method>_<arch>_<bench>.py``:
every method folder with benchmark configs is a method, ``--list`` shows them);
``--benchmarks`` default to the eight of the training-free tables (VOC21, Context60,
COCO-Object, VOC20, Context59, COCO-Stuff, Cityscapes, ADE20K). Explicit CONFIG paths add
runs (method: the file stem up to its first ``_``; benchmark: its protocol card).

The runs whose test data is in place are evaluated (tools/test.py's evaluation); the
table has, per method, ours / published / difference on each benchmark, their averages,
images/s and peak memory (langseg/engine/compare.py says how they are measured); the
runs without data are named with what to download and where. Exit 0; 2 when a run has no
data (after the table, unless ``--allow-missing``; nothing runs when no run has data);
1 with ``--strict`` when a number is outside its card's tolerance.

Example:
    python tools/compare.py --methods proxyclip maskclip --benchmarks voc21 coco-stuff \\
        --json compare.json
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone


def parse_args() -> argparse.Namespace:
    from langseg.engine.compare import BENCHMARKS
    parser = argparse.ArgumentParser(description='Compare methods on benchmarks')
    parser.add_argument('configs', nargs='*', help='extra evaluation configs (with cards)')
    parser.add_argument('--methods', nargs='+', default=[],
                        help='method names (file stems of the benchmark configs; --list)')
    parser.add_argument('--benchmarks', nargs='+', default=list(BENCHMARKS),
                        help=f'benchmark keys (default: {" ".join(BENCHMARKS)})')
    parser.add_argument('--config-dir', help='where the method folders are (default: '
                        "the repository's configs/)")
    parser.add_argument('--data-root', help="the folder that replaces the configs' data/")
    parser.add_argument('--checkpoint', action='append', default=[], metavar='NAME=PATH',
                        help='checkpoint of the config whose file stem is NAME')
    parser.add_argument('--work-dir', default='work_dirs/compare')
    parser.add_argument('--json', help='also write the table as JSON (atomically)')
    parser.add_argument('--markdown', help='also write the table as a Markdown file')
    parser.add_argument('--allow-missing', action='store_true',
                        help='exit 0 when some runs have no data (the others ran)')
    parser.add_argument('--strict', action='store_true',
                        help='exit 1 when a number is outside its tolerance')
    parser.add_argument('--list', action='store_true', help='list the methods found')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    from langseg.engine import compare as cmp
    from langseg.engine.atomic_io import atomic_write, atomic_write_json
    from langseg.engine.reproduce import parse_checkpoints
    from langseg.utils.errors import ConfigError, DataError
    config_dir = args.config_dir or cmp.default_config_dir()
    if args.list:
        print(cmp.list_methods(config_dir))
        return 0
    if not args.methods and not args.configs:
        raise ConfigError('nothing to compare: give --methods (see --list) and/or config '
                          'paths')
    checkpoints = parse_checkpoints(args.checkpoint)
    runs = cmp.resolve(args.methods, args.benchmarks, args.configs, config_dir)
    result = cmp.compare(runs, args.data_root, checkpoints, args.work_dir)
    evaluated = [r for r in runs if r.ours is not None]
    if not evaluated and result.missing:
        print('The data is not in place; nothing was evaluated. For each benchmark:')
        print(cmp.data_instructions(result))
        raise DataError(f'{len(result.missing)} benchmark(s) have no test data in place: '
                        'download and place them as printed above (or pass --data-root)')
    table = cmp.markdown(result)
    print(table)
    if args.markdown:
        os.makedirs(osp.dirname(osp.abspath(args.markdown)), exist_ok=True)
        atomic_write(args.markdown, table + '\n')
    if args.json:
        atomic_write_json(args.json, cmp.to_json(result), indent=2)
    if result.missing:
        print('\nThe data of these benchmarks is not in place (their runs were not '
              'evaluated):')
        print(cmp.data_instructions(result))
        if not args.allow_missing:
            raise DataError(f'{len(result.missing)} benchmark(s) have no test data in place '
                            '(the table has the others): place them as printed above, or '
                            'pass --allow-missing')
    failed = any(r.result == 'FAIL' for r in runs)
    return 1 if args.strict and failed else 0


if __name__ == '__main__':
    from langseg.utils.errors import run_cli
    run_cli(main)
