"""The CUDA paths in one short run (docs/benchmarks.md, "GPU check").

    python benchmarks/gpu_check.py --out DIR            # on one GPU, <= 8 minutes
    python benchmarks/gpu_check.py --out DIR --smoke    # CPU, tiny models (test suite)

1. An AMP training step (``AmpOptimWrapper``, fp16) of DenseCLIP-RN50, Conv-Former
   (MobileNetV2), CLIP-SP-RN50 and SegCLIP (ViT-B/16, all three losses) at the papers'
   batch per GPU (4, 4, 4, 96) and crop (512, 512, 512, 224): random weights from the
   configs (nothing downloaded), random batches; seconds per iteration after a warm-up,
   peak memory, and that the loss is finite and the scaler did not skip every step.
2. ProxyCLIP (ViT-B/16 + DINO B/8) in fp16 on 50 VOC-sized images (375 x 500, short side
   336 as the VOC config): images per second and peak memory, and the label agreement of
   the first image with fp32.

Writes ``DIR/gpu_check.json`` and ``DIR/gpu_check.md`` (the table for docs/benchmarks.md).
``--smoke`` runs the same code on the CPU with tiny architectures, one step and a few
small images, so the test suite checks the script itself.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import resource
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

TRAIN_JOBS = [
    # (name, config, batch per GPU, crop)
    ('DenseCLIP RN50', 'configs/denseclip/denseclip_clip-r50_8xb4-80k_ade20k-512x512.py', 4, 512),
    ('Conv-Former MobileNetV2',
     'configs/convformer/convformer_mobilenetv2_8xb4-80k_ade20k-512x512.py', 4, 512),
    ('CLIP-SP RN50', 'configs/clip_sp/clipsp_clip-r50_4xb4-160k_ade20k-512x512.py', 4, 512),
    ('SegCLIP ViT-B/16', 'configs/segclip/segclip_vit-b16_8xb96-10e_cc3m-coco.py', 96, 224),
]
PROXYCLIP_CONFIG = 'configs/proxyclip/proxyclip_vit-b16-dino-b8_voc21.py'
TINY_TEXT = dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1)


def _tiny(model_cfg: dict, name: str) -> dict:
    """Smoke mode: the same segmentor type with tiny parts (CPU seconds)."""
    tiny_rn = dict(embed_dim=32, vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1],
                                                 width=8, head_width=16), text_cfg=TINY_TEXT)
    tiny_vit = dict(embed_dim=32, vision_cfg=dict(image_size=64, layers=3, width=32,
                                                  patch_size=16, head_width=16),
                    text_cfg=TINY_TEXT)
    if name.startswith(('DenseCLIP', 'CLIP-SP')):
        model_cfg['backbone'].update(arch=tiny_rn, input_resolution=64)
        model_cfg['text_encoder']['arch'] = tiny_rn
        model_cfg['neck']['in_channels'] = [32, 64, 128, 256]
        model_cfg['neck']['out_channels'] = 16
        model_cfg['decode_head'].update(in_channels=[16] * 4, channels=16)
        fusion = model_cfg['fusion']
        if 'context_decoder' in fusion:
            fusion['context_decoder'] = dict(width=16, num_heads=2, num_layers=1)
        if 'decoder' in fusion:
            fusion.update(attn_dim=16, k=5)
            fusion['decoder'].update(num_nodes=4, num_heads=2, num_blocks=1,
                                     cooccurrence=None)
    elif name.startswith('Conv-Former'):
        model_cfg['text_encoder']['arch'] = tiny_vit
        model_cfg['fusion'].update(num_blocks=1, num_heads=2)
        model_cfg['backbone'].update(widen_factor=0.25)
        model_cfg['neck'].update(in_channels=[8, 8, 24, 80], out_channels=16)
        model_cfg['decode_head'].update(in_channels=[16] * 4, channels=16)
    elif name.startswith('SegCLIP'):
        model_cfg['backbone'].update(arch=tiny_vit, plug_layer=2, num_centers=4)
        model_cfg['decoder'] = dict(decoder_dim=16, decoder_depth=1, decoder_heads=2,
                                    encoder_depth=1)
    elif name.startswith('ProxyCLIP'):
        model_cfg['clip'] = dict(arch=tiny_vit, pretrained=None)
        model_cfg['vfm'].update(model_kwargs=dict(depth=1, embed_dim=32, num_heads=2))
        model_cfg['templates'] = 'a photo of a {}.'
    return model_cfg


def _peak_mb(device) -> float:
    import torch
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _batch(name: str, batch: int, crop: int, num_classes: int, device):
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples, inputs = [], []
    for _ in range(batch):
        sample = SegDataSample()
        sample.set_metainfo(dict(img_shape=(crop, crop), pad_shape=(crop, crop),
                                 ori_shape=(crop, crop)))
        if name.startswith('SegCLIP'):
            tokens = torch.zeros(32, dtype=torch.long)
            tokens[0], tokens[1:6], tokens[6] = 49406, torch.randint(1, 49000, (5, )), 49407
            sample.text_tokens = tokens
            sample.superpixel_patches = torch.randint(0, 6, ((crop // 16)**2, ))
        else:
            sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, crop, crop)))
        samples.append(sample)
        inputs.append(torch.randint(0, 255, (3, crop, crop), dtype=torch.uint8))
    return dict(inputs=inputs, data_samples=samples)


def train_step(name: str, config: str, batch: int, crop: int, args, device) -> dict:
    import torch
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from langseg.engine.config import strip_pretrained_weights
    cfg = Config.fromfile(osp.join(REPO, config))
    init_default_scope('mmseg')
    model_cfg = strip_pretrained_weights(cfg.model.to_dict())
    if args.smoke:
        model_cfg = _tiny(model_cfg, name)
        batch, crop = 2, 64
    model_cfg.setdefault('data_preprocessor', {})['size'] = (crop, crop)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(model_cfg)).to(device)
    model.init_weights()
    model.train()
    optim_cfg = cfg.optim_wrapper.to_dict()
    if device.type == 'cuda':
        optim_cfg.update(type='AmpOptimWrapper', dtype='float16', loss_scale='dynamic')
    wrapper = build_optim_wrapper(model, optim_cfg)
    num_classes = len(getattr(model, 'class_names', [])) or 150
    data = _batch(name, batch, crop, num_classes, device)
    steps = 1 if args.smoke else args.steps
    times, losses = [], []
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    for i in range(steps + (0 if args.smoke else 1)):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        log = model.train_step(data, optim_wrapper=wrapper)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        if i > 0 or args.smoke:
            times.append(time.perf_counter() - start)
        losses.append(float(log['loss']))
    scaler = getattr(wrapper, 'loss_scaler', None)
    return dict(job=name, config=config, batch=batch, crop=crop,
                amp=device.type == 'cuda', seconds_per_iter=sum(times) / len(times),
                peak_memory_mb=_peak_mb(device), last_loss=losses[-1],
                loss_finite=all(v == v and abs(v) != float('inf') for v in losses),
                loss_scale=float(scaler.get_scale()) if scaler is not None else None)


def proxyclip_speed(args, device) -> dict:
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from langseg.engine.config import strip_pretrained_weights
    cfg = Config.fromfile(osp.join(REPO, PROXYCLIP_CONFIG))
    init_default_scope('mmseg')
    model_cfg = strip_pretrained_weights(cfg.model.to_dict())
    if args.smoke:
        model_cfg = _tiny(model_cfg, 'ProxyCLIP')
        model_cfg.update(slide_crop=56, slide_stride=56)
    model_cfg['precision'] = 'fp16'
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).to(device).eval()
    count, size = (3, (56, 75)) if args.smoke else (args.images, (336, 448))
    gen = torch.Generator().manual_seed(0)
    # RGB pixels (the model's input) whose CLIP normalisation is standard normal
    images = [(torch.randn(1, 3, *size, generator=gen) * model.clip_std.cpu()
               + model.clip_mean.cpu()).to(device) for _ in range(count)]
    with torch.no_grad():
        model.predict(images[0])                         # text encoding and warm-up
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        labels = [model.predict(img)[0].pred_sem_seg.data for img in images]
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        peak_mb = _peak_mb(device)   # the timed model's, before the reference is built
        # the fp32 reference: a second model with the same weights (the precision is the
        # model's config; nothing is written into the timed model)
        reference = MODELS.build(dict(model_cfg, precision='fp32')).to(device).eval()
        reference.load_state_dict(model.state_dict())
        fp32 = reference.predict(images[0])[0].pred_sem_seg.data
    return dict(job='ProxyCLIP ViT-B/16 + DINO B/8', config=PROXYCLIP_CONFIG,
                precision='fp16' if device.type == 'cuda' else 'fp32 (CPU)',
                images=count, size=list(size), images_per_second=count / seconds,
                peak_memory_mb=peak_mb,
                label_agreement_with_fp32=float((labels[0] == fp32).float().mean()))


def markdown(rows: list[dict], device_name: str) -> str:
    lines = [f'GPU check on {device_name}', '',
             '| job | batch x crop | AMP | s / iter | peak memory (MB) | loss |',
             '|---|---|---|---|---|---|']
    for r in rows:
        if 'seconds_per_iter' in r:
            lines.append(f"| {r['job']} | {r['batch']} x {r['crop']} | {r['amp']} | "
                         f"{r['seconds_per_iter']:.3f} | {r['peak_memory_mb']:.0f} | "
                         f"{r['last_loss']:.3f} |")
    lines += ['', '| job | precision | images | images / s | peak memory (MB) | '
              'agreement with fp32 |', '|---|---|---|---|---|---|']
    for r in rows:
        if 'images_per_second' in r:
            lines.append(f"| {r['job']} | {r['precision']} | {r['images']} x "
                         f"{r['size'][0]}x{r['size'][1]} | {r['images_per_second']:.2f} | "
                         f"{r['peak_memory_mb']:.0f} | "
                         f"{100 * r['label_agreement_with_fp32']:.2f}% |")
    return '\n'.join(lines) + '\n'


def main() -> None:
    parser = argparse.ArgumentParser(description='CUDA paths: AMP steps and fp16 speed')
    parser.add_argument('--out', required=True, help='folder for gpu_check.json / .md')
    parser.add_argument('--smoke', action='store_true',
                        help='CPU, tiny models (checks the script, not the GPU)')
    parser.add_argument('--steps', type=int, default=3, help='timed steps per model')
    parser.add_argument('--images', type=int, default=50, help='ProxyCLIP images')
    args = parser.parse_args()
    import torch

    import langseg  # noqa: F401
    from langseg.engine.checkpoint import install_safe_checkpoint_loader
    from langseg.utils.errors import ConfigError
    install_safe_checkpoint_loader()
    if args.smoke:
        device = torch.device('cpu')
    elif not torch.cuda.is_available():
        raise ConfigError('benchmarks/gpu_check.py needs a CUDA device: run it on a GPU '
                          'machine, or pass --smoke to check the script on the CPU')
    else:
        device = torch.device('cuda')
    from tqdm import tqdm
    rows = [train_step(name, config, batch, crop, args, device)
            for name, config, batch, crop in tqdm(TRAIN_JOBS, desc='AMP training steps')]
    rows.append(proxyclip_speed(args, device))
    device_name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'
    os.makedirs(args.out, exist_ok=True)
    with open(osp.join(args.out, 'gpu_check.json'), 'w') as f:
        json.dump(dict(device=device_name, smoke=args.smoke, rows=rows), f, indent=2)
    table = markdown(rows, device_name)
    with open(osp.join(args.out, 'gpu_check.md'), 'w') as f:
        f.write(table)
    print(table)


if __name__ == '__main__':
    from langseg.utils.errors import run_cli
    run_cli(main)
