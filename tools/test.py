"""Evaluate a segmentor: prints aAcc / mIoU / mAcc and the per-class IoU table.

    python tools/test.py CONFIG [CHECKPOINT | --no-checkpoint] [--work-dir DIR] [--out DIR]
                         [--show-dir DIR] [--show [--wait-time S]] [--tta]
                         [--cfg-options k=v ...] [--launcher none|pytorch|slurm]

CHECKPOINT is optional for models that need no training (e.g. ProxyCLIP); any other model
without one is refused, unless ``--no-checkpoint`` asks to evaluate the weights the config
builds (random where nothing pretrained is named). A given checkpoint must match the model
exactly. ``--show`` displays each prediction in a window for
``--wait-time`` seconds and saves nothing, as mmseg's (it needs a display: on a machine
without one use ``--show-dir DIR``, which saves a PNG overlay of every image).
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone


def parse_args() -> argparse.Namespace:
    from langseg.engine.cfg_options import add_launch_arguments, parse_launch_arguments
    parser = argparse.ArgumentParser(description='Evaluate a segmentor (mIoU)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (optional for training-free models)')
    parser.add_argument('--no-checkpoint', action='store_true',
                        help='evaluate a trainable model without a checkpoint (the weights '
                             'the config builds, random where nothing is pretrained)')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--out', help='the dir to save the predicted label maps (PNG)')
    parser.add_argument('--show-dir', help='the dir to save PNG overlays of predictions')
    parser.add_argument('--show', action='store_true',
                        help='show the predictions in a window (needs a display; saves '
                             'nothing)')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='seconds each prediction is shown with --show (default 2)')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation')
    add_launch_arguments(parser)
    return parse_launch_arguments(parser)


def main() -> None:
    args = parse_args()
    from langseg.engine.test import test
    test(args.config, args.checkpoint, work_dir=args.work_dir, out=args.out,
         show_dir=args.show_dir, show=args.show, wait_time=args.wait_time, tta=args.tta,
         cfg_options=args.cfg_options, launcher=args.launcher,
         random_weights=args.no_checkpoint)


if __name__ == '__main__':
    from langseg.utils.errors import run_cli
    run_cli(main)
