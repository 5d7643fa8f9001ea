"""COCO-Stuff164k labels -> COCO-Object labels (background + 80 things).

    python tools/dataset_converters/coco_object.py data/coco_stuff164k [--splits val2017]
                                                    [--nproc 4]

Reads the raw COCO-Stuff label PNGs ``annotations/<split>/<id>.png`` (raw ids 0-181, 255
unlabeled) and writes ``annotations/<split>/<id>_instanceTrainIds.png`` beside them: the
80 thing classes become 1-80 (COCO's order), every stuff class and the unlabeled id become
0 (background). Each file is written to a temporary name and renamed, so an interrupted run
leaves no half-written label; files already converted are skipped.
"""
from __future__ import annotations

import argparse
import glob
import os
import os.path as osp
import sys
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from langseg.utils.errors import DataError, run_cli  # noqa: E402

#: 0-based COCO category ids (category_id - 1) of the 80 thing classes, in order.
MISSING_THING_IDS = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82)
THING_IDS = tuple(i for i in range(90) if i not in MISSING_THING_IDS)
assert len(THING_IDS) == 80

LUT = np.zeros(256, dtype=np.uint8)
for rank, raw in enumerate(THING_IDS):
    LUT[raw] = rank + 1


def convert_one(path: str) -> str:
    """Convert one raw label file; returns the written (or existing) output path."""
    from PIL import Image
    out = path[:-len('.png')] + '_instanceTrainIds.png'
    if osp.exists(out):
        return out
    try:
        raw = np.asarray(Image.open(path))
    except Exception as exc:  # corrupt file
        raise DataError(f'cannot read label {path}: {exc}') from None
    if raw.ndim != 2:
        raise DataError(f'label {path} has shape {raw.shape}: expected a single-channel '
                        'COCO-Stuff label PNG')
    tmp = out + f'.partial-{os.getpid()}.png'
    Image.fromarray(LUT[raw]).save(tmp)
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='COCO-Stuff164k -> COCO-Object labels')
    parser.add_argument('root', help='COCO-Stuff164k root (with annotations/<split>/)')
    parser.add_argument('--splits', nargs='+', default=['train2017', 'val2017'])
    parser.add_argument('--nproc', type=int, default=4)
    args = parser.parse_args(argv)
    from tqdm import tqdm
    for split in args.splits:
        folder = osp.join(args.root, 'annotations', split)
        if not osp.isdir(folder):
            raise DataError(f'{folder} does not exist: expected the COCO-Stuff164k layout '
                            'annotations/{train2017,val2017}/<id>.png')
        files = sorted(p for p in glob.glob(osp.join(folder, '*.png'))
                       if not p.endswith(('_labelTrainIds.png', '_instanceTrainIds.png')))
        if not files:
            raise DataError(f'{folder} holds no raw label PNGs (<id>.png)')
        with Pool(max(1, args.nproc)) as pool:
            for _ in tqdm(pool.imap_unordered(convert_one, files, chunksize=16),
                          total=len(files), desc=f'COCO-Object {split}'):
                pass
        print(f'{split}: {len(files)} labels -> {folder}/*_instanceTrainIds.png')
    return 0


if __name__ == '__main__':
    run_cli(main)
