"""A web page to segment your own image by typing words (Flask).

    python tools/webdemo.py [--config CONFIG] [--host 127.0.0.1] [--port 7860]
                            [--vfm dino-b8 [dinov2-b14-reg ...]] [--threshold T]
                            [--max-upload-mb 10] [--max-side 4096] [--max-aspect 10]
                            [--device cpu|cuda]
                            [--examples DIR] [--cfg-options k=v ...]

Open http://127.0.0.1:7860, choose an image (or an example), type the words
("cat; kitten, dog, sky"), pick a VFM, the probability threshold and PAMR, press Segment:
the page shows the overlay with a legend and the area of each class. ``POST /api/segment``
answers the same request as JSON (langseg/apis/webapp.py). Bad input (no image, an empty
or non-image file, an upload or image over the limits, no words, a bad threshold) gets one
message; the server keeps serving. It binds 127.0.0.1 unless told otherwise.

``--vfm`` lists the VFM presets offered on the page (``langseg.models.backbones.VFM_PRESETS``;
the first is the config's); each is built on first use, from the same config, and kept.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from langseg.engine.cfg_options import CfgOptionsAction  # noqa: E402

from langseg.utils.errors import ConfigError, run_cli  # noqa: E402

#: The default config, found next to this file (the clone's configs/), whatever the cwd.
DEFAULT_CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                          'configs', 'proxyclip', 'proxyclip_vit-b16-dino-b8_voc21.py')


def example_images(folder: str | None) -> dict:
    """Example images: the files of ``folder``, or two generated toy scenes."""
    import numpy as np
    from langseg.apis import read_image
    if folder:
        if not osp.isdir(folder):
            raise ConfigError(f'--examples {folder} is not a folder of images')
        return {name: read_image(osp.join(folder, name)) for name in sorted(os.listdir(folder))
                if name.lower().endswith(('.jpg', '.jpeg', '.png', '.bmp', '.webp'))}
    from langseg.datasets.toy_shapes import render_toy_sample
    return {f'shapes {i + 1}': np.ascontiguousarray(
        render_toy_sample(0, 'validation', i, size=160)[0]) for i in range(2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='Web page: segment an image by words')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='default: ProxyCLIP voc21 (configs/ next to this tool)')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--vfm', nargs='+', default=None,
                        help='VFM presets offered on the page (first: the default)')
    parser.add_argument('--threshold', type=float, default=None,
                        help='default probability threshold shown on the page')
    parser.add_argument('--max-upload-mb', type=float, default=10)
    parser.add_argument('--max-side', type=int, default=4096,
                        help='longest image side accepted, before and after resizing')
    parser.add_argument('--max-aspect', type=float, default=10.0,
                        help='largest ratio of the longer image side to the shorter')
    parser.add_argument('--device', default=None)
    parser.add_argument('--examples', help='a folder of example images (default: two '
                                           'generated scenes)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    args = parser.parse_args(argv)
    from werkzeug.serving import make_server

    from langseg.apis import OpenVocabularySegmenter
    from langseg.apis.webapp import WebSettings, create_app
    from langseg.models.backbones import VFM_PRESETS
    names = args.vfm or ['config']
    unknown = [n for n in names[1:] if n not in VFM_PRESETS]
    if args.vfm and names[0] not in VFM_PRESETS and names[0] != 'config':
        unknown.insert(0, names[0])
    if unknown:
        raise ConfigError(f'unknown VFM {", ".join(unknown)}: expected presets of '
                          f'{", ".join(VFM_PRESETS)}')
    segmenters = {}

    def segmenter_for(name: str):
        if name not in segmenters:
            options = dict(args.cfg_options or {})
            if name != 'config':
                options['model.vfm.name'] = name
                options['model.vfm.model_name'] = None
            segmenters[name] = OpenVocabularySegmenter(
                args.config, device=args.device, cfg_options=options or None,
                max_side=args.max_side, max_aspect=args.max_aspect)
        return segmenters[name]

    segmenter_for(names[0])       # the default one is ready before the page is
    settings = WebSettings(model_name=osp.basename(args.config),
                           max_upload_mb=args.max_upload_mb, max_side=args.max_side,
                           max_aspect=args.max_aspect,
                           vfms=names, examples=example_images(args.examples),
                           threshold=args.threshold)
    app = create_app(segmenter_for, settings)
    server = make_server(args.host, args.port, app, threaded=True)
    print(f'serving on http://{args.host}:{server.server_port}', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == '__main__':
    run_cli(main)
