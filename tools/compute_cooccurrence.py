"""Label co-occurrence matrix of a training set (CLIP-SP's text-path adjacency prior).

    python tools/compute_cooccurrence.py CONFIG --out FILE.npz [--split train|val]
                                         [--cfg-options k=v ...]

For every image of the config's training (or validation) dataset, the set of classes
present in its label map (the dataset's ``reduce_zero_label`` applied, ignore index 255
excluded); ``M[i, j]`` counts the images where classes i and j both appear, so ``M`` is
symmetric and ``M[i, i]`` is the number of images that contain class i. Written atomically
as ``.npz`` with ``matrix`` (K x K int64), ``class_names`` and ``num_images``; read it with
``numpy.load(FILE)`` (no pickle).
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from langseg.engine.cfg_options import CfgOptionsAction  # noqa: E402

from langseg.utils.errors import DataError, run_cli  # noqa: E402


def cooccurrence(label_files: list[str], num_classes: int, reduce_zero_label: bool = False,
                 ignore_index: int = 255, progress: bool = True) -> np.ndarray:
    """K x K co-occurrence counts of the classes present in each label file."""
    from PIL import Image
    from tqdm import tqdm
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    for path in tqdm(label_files, desc='co-occurrence', disable=not progress):
        try:
            label = np.asarray(Image.open(path)).astype(np.int64)
        except Exception as exc:
            raise DataError(f'cannot read label {path}: {exc}') from None
        if reduce_zero_label:
            label = np.where(label == 0, ignore_index, label - 1)
            label[label == ignore_index - 1] = ignore_index
        present = np.unique(label)
        present = present[(present >= 0) & (present < num_classes) & (present != ignore_index)]
        matrix[np.ix_(present, present)] += 1
    return matrix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='Label co-occurrence of a dataset')
    parser.add_argument('config')
    parser.add_argument('--out', required=True, help='output .npz file')
    parser.add_argument('--split', choices=['train', 'val'], default='train')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    args = parser.parse_args(argv)
    if not args.out.endswith('.npz'):
        raise DataError(f'--out {args.out}: expected a .npz path')
    import langseg  # noqa: F401
    from mmengine.registry import init_default_scope

    from langseg.datasets.checks import check_data_roots
    from langseg.engine.config import load_config
    from langseg.registry import DATASETS
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    loader = cfg.get(f'{args.split}_dataloader')
    if not loader:
        raise DataError(f'{args.config} has no {args.split}_dataloader')
    check_data_roots(cfg, [f'{args.split}_dataloader'])
    ds_cfg = dict(loader['dataset'])
    ds_cfg['pipeline'] = []
    dataset = DATASETS.build(ds_cfg)
    files = [dataset.get_data_info(i)['seg_map_path'] for i in range(len(dataset))]
    classes = list(dataset.metainfo['classes'])
    matrix = cooccurrence(files, len(classes), bool(dataset.reduce_zero_label),
                          dataset.ignore_index)
    os.makedirs(osp.dirname(osp.abspath(args.out)) or '.', exist_ok=True)
    tmp = args.out[:-4] + f'.partial-{os.getpid()}.npz'
    np.savez(tmp, matrix=matrix, class_names=np.array(classes), num_images=len(files))
    os.replace(tmp, args.out)
    print(f'{len(files)} images, {len(classes)} classes -> {args.out}')
    return 0


if __name__ == '__main__':
    run_cli(main)
