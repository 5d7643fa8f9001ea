"""Segment your own image by typing words (training-free ProxyCLIP by default).

    python tools/demo.py IMAGE --classes "cat; kitten, dog, sky" [--config CONFIG]
                         --out OUT.png [--device cpu|cuda] [--cfg-options k=v ...]
                         [--verbose]

Classes are separated by commas, synonyms of a class by ";". Writes an overlay PNG with a
legend (class colour and area) and prints the per-class areas (mmengine's INFO logs only
with ``--verbose``). The image is checked on its header before it is decoded (at most 8192
pixels on the longer side, aspect ratio at most 10:1; see langseg/apis/image_io.py).
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from langseg.engine.cfg_options import CfgOptionsAction  # noqa: E402

from langseg.utils.errors import DataError, run_cli  # noqa: E402

#: The default config, found next to this file (the clone's configs/), whatever the cwd.
DEFAULT_CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                          'configs', 'proxyclip', 'proxyclip_vit-b16-dino-b8_voc21.py')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='Open-vocabulary segmentation of one image')
    parser.add_argument('image')
    parser.add_argument('--classes', required=True,
                        help='words to segment: "cat; kitten, dog, sky"')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--device', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    parser.add_argument('--verbose', action='store_true',
                        help="keep mmengine's INFO logs (weight initialisation, ...)")
    args = parser.parse_args(argv)
    if not args.verbose:  # the result, not ~100 init_weights INFO blocks (warnings stay)
        import logging

        from mmengine.logging import MMLogger
        MMLogger.get_current_instance().setLevel(logging.WARNING)
    if not args.out.lower().endswith('.png'):
        raise DataError(f'--out {args.out}: expected a .png path')
    import cv2

    from langseg.apis import (OpenVocabularySegmenter, class_areas, overlay_with_legend,
                              parse_class_words, read_image)
    image = read_image(args.image)
    parse_class_words(args.classes)  # fail before building the model
    segmenter = OpenVocabularySegmenter(args.config, device=args.device,
                                        cfg_options=args.cfg_options)
    result = segmenter(image, args.classes)
    canvas = overlay_with_legend(image, result.labels, result.class_names)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    tmp = args.out + f'.partial-{os.getpid()}.png'
    if not cv2.imwrite(tmp, canvas[..., ::-1]):
        raise DataError(f'cannot write {args.out}')
    os.replace(tmp, args.out)
    for name, frac in class_areas(result.labels, result.class_names):
        print(f'{name}: {100 * frac:.1f}%')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    run_cli(main)
