"""GFLOPs (fvcore multiply-adds, attention counted) and params of one or more configs.

    python tools/get_flops.py CONFIG [CONFIG ...] [--shape H [W]] [--json PATH]
                              [--markdown] [--transposed-conv-rule input|output]
                              [--cfg-options k=v ...]

``--shape`` is read as mmseg 1.x's ``tools/analysis_tools/get_flops.py`` reads it: ``H W``
(the input is ``torch.rand(3, H, W)``), one value for a square, default ``2048 1024`` as
mmseg's (that is H=2048, W=1024; a Cityscapes frame, 1024 high and 2048 wide, is
``--shape 1024 2048``). The published tables are at ``--shape 1024`` (see docs/model_zoo.md).

What is counted is described in langseg/evaluation/flops.py and docs/benchmarks.md: the
random image goes through the model's data preprocessor (``training=False``, as mmseg's
tool), then the whole-image ``tensor``-mode forward plus the final resize is traced, batch
1; a frozen text encoder is excluded from GFLOPs/params (the published tables' convention)
and included in the ``_with_text`` columns. Counts do not depend on the weights: every
config is built with random ones (its ``pretrained`` tags and files dropped), so nothing is
read or downloaded.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone

RULE_TEXT = {
    'input': 'transposed convolutions counted on their input size (current fvcore rule)',
    'output': 'transposed convolutions counted on their output size (older fvcore rule, '
              'used by the published DenseCLIP ViT rows)',
}


def parse_args() -> argparse.Namespace:
    from langseg.engine.cfg_options import CfgOptionsAction
    parser = argparse.ArgumentParser(description='Count GFLOPs and params of configs')
    parser.add_argument('configs', nargs='+', help='config file paths')
    parser.add_argument('--shape', type=int, nargs='+', default=[2048, 1024],
                        help="input size H [W], read as mmseg's get_flops reads it: default "
                             '2048 1024 (mmseg\'s default), i.e. 2048 high and 1024 wide; '
                             'one value is a square (the published tables: --shape 1024)')
    parser.add_argument('--json', help='write the results as a JSON list to this path')
    parser.add_argument('--markdown', action='store_true', help='print a markdown table')
    parser.add_argument('--transposed-conv-rule', choices=['input', 'output'],
                        default='input', help="'output' reproduces the published ViT rows")
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override settings in every config, key=value')
    args = parser.parse_args()
    check_shape(args.shape)
    return args


#: The input sides --shape accepts: the smallest a ViT-B/16 window or a 32x-strided
#: backbone takes, and the largest counted in reasonable memory (8192 x 8192 x 3 floats).
MIN_SIDE, MAX_SIDE = 32, 8192


def check_shape(shape: list[int]) -> None:
    """One-line errors for a --shape that cannot be counted, before anything is built."""
    from langseg.utils.errors import ConfigError
    if len(shape) not in (1, 2):
        raise ConfigError(f'--shape {" ".join(map(str, shape))}: expected H or H W')
    for side in shape:
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise ConfigError(f'--shape {" ".join(map(str, shape))}: {side} is out of range: '
                              f'expected sides from {MIN_SIDE} to {MAX_SIDE} pixels')


def count_config(path: str, shape: list[int], rule: str, cfg_options: dict | None) -> dict:
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from langseg.engine.config import (check_config_types, explain_build_errors,
                                       load_config, strip_pretrained_weights)
    from langseg.evaluation.flops import count_segmentor
    cfg = load_config(path, cfg_options)
    check_config_types(cfg)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    # counts do not depend on the weights: the model is built with random ones, so nothing
    # is read or downloaded (a ProxyCLIP config names open_clip and timm tags)
    with explain_build_errors():
        model = MODELS.build(strip_pretrained_weights(cfg.model.to_dict()))
    model = revert_sync_batchnorm(model)
    result = count_segmentor(model, shape, transposed_conv_rule=rule,
                             use_data_preprocessor=True)
    return dict(config=path, **result)


def main() -> None:
    args = parse_args()
    shape = args.shape * 2 if len(args.shape) == 1 else args.shape
    rows = [count_config(p, shape, args.transposed_conv_rule, args.cfg_options)
            for p in args.configs]
    header = ['config', 'input', 'GFLOPs', 'params (M)', 'GFLOPs +text', 'params +text (M)']
    table = [[osp.splitext(osp.basename(r['config']))[0], f"{shape[0]}x{shape[1]}",
              f"{r['gflops']:.2f}", f"{r['params_m']:.2f}", f"{r['gflops_with_text']:.2f}",
              f"{r['params_with_text_m']:.2f}"] for r in rows]
    if args.markdown:
        print('| ' + ' | '.join(header) + ' |')
        print('|' + '---|' * len(header))
        for line in table:
            print('| ' + ' | '.join(line) + ' |')
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
        for line in [header, *table]:
            print('  '.join(str(x).ljust(w) for x, w in zip(line, widths)))
    for r in rows:
        name = osp.splitext(osp.basename(r['config']))[0]
        if r['padded_shape'] != r['input_shape']:
            print(f"{name}: the data preprocessor pads the input from "
                  f"{r['input_shape'][0]}x{r['input_shape'][1]} to "
                  f"{r['padded_shape'][0]}x{r['padded_shape'][1]}: counted at the padded size")
        parts = ', '.join(f'{k} {v:.2f}' for k, v in r['by_module'].items())
        print(f'{name}: by module (GFLOPs): {parts}')
        if r['text_gflops']:
            print(f"{name}: text encoder, one uncached pass over all class prompts (cached at "
                  f"inference): {r['text_gflops']:.2f} GFLOPs, excluded from GFLOPs")
        ops = ', '.join(f'{k} x{v}' for k, v in r['unsupported_ops'].items()) or 'none'
        print(f'{name}: unsupported ops (counted as 0): {ops}')
    print(f'Counted with fvcore (1 multiply-add = 1 flop), attention included, batch 1; '
          f'{RULE_TEXT[args.transposed_conv_rule]}.')
    if args.json:
        from langseg.engine.atomic_io import atomic_write_json
        atomic_write_json(args.json, rows, indent=2)
        print(f'wrote {args.json}')


if __name__ == '__main__':
    from langseg.utils.errors import run_cli
    run_cli(main)
