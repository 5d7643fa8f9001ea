"""Convert an officially released checkpoint into a langseg checkpoint.

    python tools/convert_checkpoint.py {denseclip,segclip} SRC DST [--config CONFIG]

SRC is read with ``weights_only=True`` (a .pth/.pt/.bin or .safetensors file; mmengine /
mmcv checkpoints with a ``state_dict`` entry and DDP ``module.`` prefixes are unwrapped).
Every key is placed by an explicit rule (langseg/converters/); a key no rule places stops
the conversion with a message naming it. With ``--config`` the result is loaded strictly
into the config's model (every key present, no extra key, every shape equal) before it is
written. DST is an mmengine-style ``{'state_dict': ..., 'meta': ...}`` file written
atomically, so ``tools/test.py CONFIG DST`` evaluates it.

Examples:
    python tools/convert_checkpoint.py denseclip denseclip_fpn_res50.pth \\
        checkpoints/denseclip_clip-r50.pth \\
        --config configs/denseclip/denseclip_clip-r50_8xb4-80k_ade20k-512x512.py
    python tools/convert_checkpoint.py segclip segclip.bin checkpoints/segclip.pth \\
        --config configs/segclip/segclip_vit-b16_voc21.py
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert an official checkpoint')
    parser.add_argument('method', choices=['denseclip', 'segclip'])
    parser.add_argument('src', help='the official checkpoint')
    parser.add_argument('dst', help='where to write the langseg checkpoint')
    parser.add_argument('--config', help='check the result loads strictly into this config')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from langseg.methods.denseclip.convert import convert_denseclip
    from langseg.methods.segclip import convert_segclip
    from langseg.utils.state_dict import read_state_dict
    state, _ = read_state_dict(args.src)
    if args.method == 'denseclip':
        converted = convert_denseclip(state)
    else:
        converted = convert_segclip(state)
    if args.config:
        from mmengine.registry import init_default_scope
        from mmseg.registry import MODELS

        import langseg  # noqa: F401
        from langseg.engine.config import explain_build_errors, load_config, \
            strip_pretrained_weights
        from langseg.utils.state_dict import load_state_dict_checked
        cfg = load_config(args.config)
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        with explain_build_errors():
            model = MODELS.build(strip_pretrained_weights(cfg.model.to_dict()))
        load_state_dict_checked(model, converted, f'the model of {args.config}')
        print(f'{len(converted)} tensors load strictly into {args.config}')
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    from langseg.engine.atomic_io import atomic_torch_save
    atomic_torch_save(dict(state_dict=converted,
                           meta=dict(converted_from=osp.basename(args.src),
                                     method=args.method)), args.dst)
    print(f'wrote {args.dst}: {len(converted)} tensors from {len(state)} official keys')


if __name__ == '__main__':
    from langseg.utils.errors import run_cli
    run_cli(main)
