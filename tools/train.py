"""Train a segmentor (mmseg 1.x flags).

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
                          [--cfg-options k=v ...] [--launcher none|pytorch|slurm]

Multi-process: ``torchrun --nproc_per_node=N tools/train.py CONFIG --launcher pytorch``
(or tools/dist_train.sh). Without CUDA the processes use the gloo backend.

``--amp`` as mmseg's: an ``OptimWrapper`` becomes an ``AmpOptimWrapper`` with
``loss_scale='dynamic'``, an ``AmpOptimWrapper`` is kept (warning), another wrapper type is
an error; it needs CUDA. ``load_from`` in the config loads partially, as mmseg (one
warning line lists the keys that did not load); ``load_from_strict = True`` refuses a
checkpoint that does not match the model exactly.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone


def parse_args() -> argparse.Namespace:
    from langseg.engine.cfg_options import add_launch_arguments, parse_launch_arguments
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', action='store_true', default=False,
                        help='resume from the latest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic mixed precision training (CUDA; needs '
                             'optim_wrapper.type OptimWrapper or AmpOptimWrapper)')
    parser.add_argument('--gpus', type=int, default=None,
                        help="the GPUs of the config's published schedule (its NxB): "
                             'accumulate N / processes passes per step so that the global '
                             'batch, learning rate and steps stay as published')
    parser.add_argument('--accumulate', type=int, default=None,
                        help='gradient accumulation: passes per optimiser step (the '
                             'iteration schedule is stretched by the same factor)')
    add_launch_arguments(parser)
    return parse_launch_arguments(parser)


def main() -> None:
    args = parse_args()
    from langseg.engine.train import train
    train(args.config, work_dir=args.work_dir, resume=args.resume, amp=args.amp,
          cfg_options=args.cfg_options, launcher=args.launcher, gpus=args.gpus,
          accumulate=args.accumulate)


if __name__ == '__main__':
    from langseg.utils.errors import run_cli
    run_cli(main)
