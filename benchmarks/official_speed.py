"""The official code's speed on this machine, beside langseg's (docs/benchmarks.md,
"Training-free methods", "Beside the official code").

    python benchmarks/official_speed.py METHOD /path/to/official/checkout
        [--dino /path/to/facebookresearch/dino] [--threads 2]

METHOD is one of :data:`METHODS`; the checkout is that method's official repository (the
commits the parity recorders in tools/parity/ used), nothing of which is copied into
langseg or imported by it. What runs is the official segmentor class (an mmseg
``BaseSegmentor``) built with the settings of the repository's ``configs/cfg_voc21.py`` and
``configs/base_config.py`` (class names file, logit scale, ``prob_thd``, windows) and
called as its ``eval.py`` calls it: one ``predict`` per image, fp32, on the CPU. The
weights are random at the real sizes (nothing is downloaded; speed does not depend on the
weights): CLIP ViT-B/16 built by the repository's own ``clip/model.py`` or its own
``open_clip`` fork, returned where the official code calls ``clip.load`` /
``create_model``; DINO built by facebookresearch/dino's ``vision_transformer.py``
(``--dino``; at the architecture each repository names) returned where the official code
calls ``torch.hub.load``.

The images are the ones benchmarks/training_free_speed.py times for langseg (375x500,
500x375, 333x500 random pixels), resized by the method's own VOC21 test pipeline
(``Resize`` to scale (2048, short side), keep ratio: short side 336, or 448 where the
config says so), one ``predict`` call each after one warm-up image; the text is encoded
once at construction and not timed. Printed: images/s by the wall clock and the
process's CPU seconds per image (``time.process_time``, all threads).

Changes for fp32 on a CPU, none of them in the computation (each build function says
which it makes): the official code's fp16 casts (``Tensor.half`` / ``Module.half``,
``create_model(..., precision='fp16')``) give fp32 (a floating tensor's ``.half()``
is the identity, an integer one's is ``.float()``), as the official
``clip.load`` itself does on a CPU; hard-coded ``.cuda()`` placements stay on the CPU.

Methods (official repository @ commit):

* ``sclip``: github.com/wangf3014/SCLIP @b56bd30 (Wang, Mei and Yuille, ECCV 2024,
  arXiv:2312.01597), ``clip_segmentor.CLIPForSegmentation``: logit scale 65, ``prob_thd``
  0.1, ``area_thd`` 0.1, windows 224 / 112, short side 336.
* ``clearclip``: github.com/mc-lan/ClearCLIP @ad68a40 (Lan et al., ECCV 2024,
  arXiv:2407.12442), ``clearclip_segmentor.ClearCLIPSegmentation``: ``clip_type='CLIP'``,
  ``model_type='ClearCLIP'`` (q-q; its ``configs/base_config.py:6`` says ``'vanilla'``,
  the q-k baseline: docs/methods/clearclip.md; the cost is the same), residual dropped,
  logit scale 50, ``prob_thd`` 0.5, windows 448 / 224, short side 448. Its BLIP and GEM
  imports (other models, unused) are stubbed.
* ``naclip``: github.com/sinahmr/NACLIP @0cac3a6 (Hajimiri, Ben Ayed and Dolz, WACV
  2025, arXiv:2404.08181), ``naclip.NACLIP``: whole images (``slide_crop=0``),
  ``prob_thd`` 0.1, PAMR (10 steps, dilations 8, 16: its default), short side 336.
* ``scclip``: github.com/SuleBai/SC-CLIP @0417ba9 (Bai et al., arXiv:2411.15869),
  ``scclip_segmentor.SCCLIPForSegmentation``: logit scale 50, ``prob_thd`` 0.15,
  ``area_thd`` 0.1, windows 224 / 112, its base-config indices, short side 336.
* ``resclip``: github.com/yvhangyang/ResCLIP @0e085f7 (Yang et al., CVPR 2025),
  ``resclip_segmentor.ResCLIPSegmentation``: whole images, ``prob_thd`` 0.1,
  ``temp_thd`` 0.5, ``delete_same_entity``, RCS / SFR weights (2.0, 0.3) / (2.2, 0.7),
  short side 336. Its ``clip/model.py`` places two tensors and the SFR's PAMR with
  ``.cuda()`` / ``.to('cuda')``: ``Tensor.cuda`` returns the tensor and that PAMR's
  ``to`` is the identity (as tools/parity/record_resclip.py runs it).
* ``proxyclip``: github.com/mc-lan/ProxyCLIP @e7b767f (Lan et al., ECCV 2024,
  arXiv:2408.04883), ``proxyclip_segmentor.ProxyCLIPSegmentation``: CLIP ViT-B/16 of its
  ``open_clip`` fork, DINO ``dino_vitb8``, ``prob_thd`` 0.2, logit scale 40, beta 1.2,
  gamma 3, windows 336 / 112, short side 336. Its ``einops`` (used only by the MAE VFM
  branch; not installed here) and ``openpyxl`` imports are stubbed.
* ``glaclip``: github.com/2btlFe/GLA-CLIP @ba74915 (Lee et al., CVPR 2026),
  ``gla_clip_segmentor.GLA_CLIPSegmentation`` with the ``cfg.ModelConfig`` its
  ``eval.py`` builds from ``configs/cfg_voc21.py`` and ``predict.sh``'s flags
  (``--CLIP_type ProxyCLIP --token_norm --KV_token_extension --proxy_sim --mini_iters 2
  --dynamic_beta --beta_alpha 0.3 --dynamic_gamma --gamma_alpha 30``, initial_crit_pos
  0.6), ``prob_thd`` 0.1, windows 224 / 112, DINO ``dino_vitb8``, short side 336; its
  ``openpyxl`` / ``ipdb`` imports are stubbed, the device is the CPU.
* ``corrclip``: github.com/zdk258/CorrCLIP @103bc18, folder ``CorrCLIPv1/`` (pass that
  folder), ``corrclip_segmentor.CorrCLIPSegmentation``: MetaCLIP ViT-B/16 (quickgelu) of
  its ``open_clip`` fork, DINO ``dino_vitb8``, ``prob_thd`` 0.2, windows 336 / 112, short
  side 336, ``mask_generator=None`` with ``instance_mask_path``: its VOC21 config reads
  precomputed SAM2 region maps (``.npz``, one per image) and so does this run, with maps
  of one region (what langseg's timed config sees without region masks: no DBSCAN merge,
  no map correction; the mask generator's own cost is in neither figure). Its imports
  of ``transformers`` (the Mask2Former generator), ``sklearn`` (DBSCAN, called only with
  more than one region in a window) and ``openpyxl`` are stubbed: none installed here.
* ``trident``: github.com/YuHengsss/Trident @a93b346 (Shi et al., ICCV 2025),
  ``trident.Trident`` with its SAM refinement on (the README's ``eval.py ... --sam_refine``;
  langseg's configs' default): CLIP ViT-B/16 of its ``open_clip`` fork, DINO
  ``dino_vitb16``, SAM ViT-B of its own ``segment_anything`` copy built with
  ``checkpoint=None`` (random; the config's ``sam_ckpt`` is a path on the authors'
  machine), ``prob_thd`` 0.2, ``coarse_thresh`` 0.2, windows 336 / 224, SAM IoU threshold
  0.8, short side 448. It reads each image from its file (``cv2.imread``) for SAM: the
  resized image is written as a PNG file and is also the "original" size here. Its
  ``openpyxl`` import is stubbed.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import shutil
import sys
import tempfile
import time
import types
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

SIZES = [(375, 500), (500, 375), (333, 500)]


def resized(h: int, w: int, short_side: int) -> tuple[int, int]:
    """mmcv's keep-ratio Resize to scale (2048, short_side)."""
    scale = min(2048 / max(h, w), short_side / min(h, w))
    return int(h * scale + 0.5), int(w * scale + 0.5)


def _enter(root: str) -> None:
    """The official checkout on ``sys.path`` and as the working directory (its configs
    name ``./configs/cls_*.txt``)."""
    sys.path.insert(0, root)
    os.chdir(root)


def _fp32_half() -> None:
    """The official code's fp16 casts give fp32 on the CPU: the identity on a floating
    tensor, ``float()`` on an integer one (Trident's refinement casts its label map to a
    floating type with ``.half()``)."""
    torch.Tensor.half = lambda self, *a, **k: self if self.is_floating_point() else self.float()
    torch.nn.Module.half = lambda self: self


def _stub(*names: str, **attrs) -> None:
    """Empty modules for imports of unused parts (other models, spreadsheets)."""
    for name in names:
        module = types.ModuleType(name)
        for key, value in attrs.items():
            setattr(module, key, value)
        sys.modules.setdefault(name, module)


def _openai_clip_load(root: str) -> None:
    """The repository's ``clip.load`` returns its own ``clip/model.py`` ``CLIP`` at
    ViT-B/16's sizes, randomly initialised, fp32 (what the official load gives on a CPU
    after ``model.float()``)."""
    import clip
    import clip.model as clip_model
    torch.manual_seed(0)
    net = clip_model.CLIP(embed_dim=512, image_resolution=224, vision_layers=12,
                          vision_width=768, vision_patch_size=16, context_length=77,
                          vocab_size=49408, transformer_width=512, transformer_heads=8,
                          transformer_layers=12).float().eval()
    clip.load = lambda *a, **k: (net, None)


def _check_fork(root: str, module) -> None:
    if not osp.abspath(module.__file__).startswith(root):
        raise SystemExit(f'imported {module.__file__}, not the official fork under {root}')


def _dino_hub(dino_root: str | None) -> None:
    """``torch.hub.load('facebookresearch/dino:main', name)`` calls that repository's
    ``hubconf.<name>(pretrained=False)``: its ``vision_transformer.py`` architecture,
    randomly initialised (nothing downloaded)."""
    if dino_root is None or not osp.isfile(osp.join(dino_root, 'hubconf.py')):
        raise SystemExit('this method loads DINO through torch.hub: pass --dino, a checkout of '
                         'github.com/facebookresearch/dino')
    import importlib.util
    names = ('utils', 'vision_transformer')     # dino's own top-level modules
    saved = {n: sys.modules.pop(n) for n in names if n in sys.modules}
    sys.path.insert(0, dino_root)
    try:
        spec = importlib.util.spec_from_file_location('dino_hubconf',
                                                      osp.join(dino_root, 'hubconf.py'))
        hub = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(hub)
    finally:
        sys.path.remove(dino_root)
        for n in names:
            sys.modules.pop(n, None)
        sys.modules.update(saved)

    def load(repo_or_dir: str, model: str, *args, **kwargs):
        torch.manual_seed(1)
        return getattr(hub, model)(pretrained=False).eval()

    torch.hub.load = load


def _fork_create_model(root: str, segmentor_module: str) -> None:
    """The repository's own ``open_clip`` fork: the segmentor's ``create_model`` (OpenAI or
    MetaCLIP ViT-B/16 weights in fp16) returns the fork's ``CLIP`` at ViT-B/16's sizes
    with QuickGELU (as its OpenAI loader builds it from a state dict, and as MetaCLIP's
    ``ViT-B-16-quickgelu`` is), randomly initialised, fp32 (built directly: GLA-CLIP's
    fork ships no ``model_configs/``)."""
    import open_clip
    import open_clip.model
    _check_fork(root, open_clip)
    torch.manual_seed(0)
    net = open_clip.model.CLIP(
        embed_dim=512, quick_gelu=True,
        vision_cfg=dict(image_size=224, layers=12, width=768, patch_size=16),
        text_cfg=dict(context_length=77, vocab_size=49408, width=512, heads=8, layers=12),
    ).float().eval()
    module = __import__(segmentor_module)
    module.create_model = lambda *a, **k: net


def build_sclip(root: str, dino: str | None, images: list):
    _enter(root)
    _openai_clip_load(root)
    import clip_segmentor
    seg = clip_segmentor.CLIPForSegmentation(
        clip_path='ViT-B/16', name_path='./configs/cls_voc21.txt', device=torch.device('cpu'),
        logit_scale=65, prob_thd=0.1, area_thd=0.1, slide_stride=112, slide_crop=224)
    return seg


def build_clearclip(root: str, dino: str | None, images: list):
    _enter(root)
    _fp32_half()
    _stub('BLIP', 'BLIP.models', 'BLIP.models.blip_retrieval', 'gem', blip_retrieval=None)
    _fork_create_model(root, 'clearclip_segmentor')
    import clearclip_segmentor
    return clearclip_segmentor.ClearCLIPSegmentation(
        clip_type='CLIP', vit_type='ViT-B/16', model_type='ClearCLIP', ignore_residual=True,
        name_path='./configs/cls_voc21.txt', device=torch.device('cpu'), prob_thd=0.5)


def build_naclip(root: str, dino: str | None, images: list):
    _enter(root)
    _openai_clip_load(root)
    import naclip
    seg = naclip.NACLIP(clip_path='ViT-B/16', name_path='./configs/cls_voc21.txt',
                        device=torch.device('cpu'), prob_thd=0.1, slide_crop=0)
    return seg


def build_scclip(root: str, dino: str | None, images: list):
    _enter(root)
    _openai_clip_load(root)
    import scclip_segmentor
    seg = scclip_segmentor.SCCLIPForSegmentation(
        clip_path='ViT-B/16', name_path='./configs/cls_voc21.txt', device=torch.device('cpu'),
        area_thd=0.1, logit_scale=50, prob_thd=0.15, pre_adjust_idx=8, post_adjust_idx=3,
        multi_start_idx=3, multi_end_idx=10, res_cls=0.3)
    return seg


def build_resclip(root: str, dino: str | None, images: list):
    _enter(root)
    _openai_clip_load(root)
    torch.Tensor.cuda = lambda self, *a, **k: self
    import clip.model as clip_model

    class CPUPAMR(clip_model.PAMR):
        def to(self, *args, **kwargs):
            return self

    clip_model.PAMR = CPUPAMR
    import resclip_segmentor
    seg = resclip_segmentor.ResCLIPSegmentation(
        clip_path='ViT-B/16', name_path='./configs/cls_voc21.txt', device=torch.device('cpu'),
        use_rcs=True, use_sfr=True, prob_thd=0.1, slide_crop=0, temp_thd=0.50,
        delete_same_entity=True, attn_rcs_weights=[2.0, 0.3], attn_sfr_weights=[2.2, 0.7])
    return seg


def build_proxyclip(root: str, dino: str | None, images: list):
    _enter(root)
    _fp32_half()
    _dino_hub(dino)
    _stub('openpyxl', 'einops', rearrange=None)   # spreadsheets; einops only in the MAE branch
    _fork_create_model(root, 'proxyclip_segmentor')
    import proxyclip_segmentor
    seg = proxyclip_segmentor.ProxyCLIPSegmentation(
        clip_type='openai', model_type='ViT-B/16', vfm_model='dino', checkpoint=None,
        name_path='./configs/cls_voc21.txt', device=torch.device('cpu'), prob_thd=0.2)
    return seg


def build_glaclip(root: str, dino: str | None, images: list):
    _enter(root)
    _fp32_half()
    _dino_hub(dino)
    _stub('openpyxl', 'ipdb')                     # imported by its myutils, unused
    _fork_create_model(root, 'gla_clip_segmentor')
    import gla_clip_segmentor
    from cfg import ModelConfig
    model = dict(type='GLA_CLIPSegmentation', clip_type='openai', model_type='ViT-B/16',
                 vfm_model='dino', checkpoint=None, name_path='./configs/cls_voc21.txt',
                 prob_thd=0.1, slide_crop=224, scale=336)
    cfg = ModelConfig(**model)                    # eval.py, with predict.sh's flags
    cfg.CLIP_type, cfg.lbl_size, cfg.device = 'ProxyCLIP', (28, 28), 'cpu'
    cfg.gt_dir, cfg.work_dir = 'SegmentationClass', 'work_dir'
    cfg.token_norm, cfg.KV_token_extension, cfg.proxy_sim, cfg.smoothing = True, True, True, False
    cfg.mini_iters, cfg.initial_crit_pos = 2, 0.6
    cfg.vfm_model, cfg.checkpoint = 'dino', None
    cfg.dynamic_beta, cfg.dynamic_gamma, cfg.beta_alpha, cfg.gamma_alpha = True, True, 0.3, 30
    model.pop('type')
    seg = gla_clip_segmentor.GLA_CLIPSegmentation(**model, device=torch.device('cpu'),
                                                  model_cfg=cfg)
    return seg


def build_corrclip(root: str, dino: str | None, images: list):
    _enter(root)
    _fp32_half()
    _dino_hub(dino)
    import importlib.machinery
    # transformers (Mask2Former generator), sklearn (DBSCAN: called only with more than one
    # region in a window) and openpyxl are imported but not used on this path
    _stub('transformers', AutoImageProcessor=None, Mask2FormerForUniversalSegmentation=None)
    _stub('sklearn', 'sklearn.cluster', DBSCAN=None)
    _stub('openpyxl')
    for name in ('transformers', 'sklearn', 'sklearn.cluster', 'openpyxl'):
        sys.modules[name].__spec__ = importlib.machinery.ModuleSpec(name, None)
    _fork_create_model(root, 'corrclip_segmentor')
    import corrclip_segmentor
    for path, size in images:   # the precomputed region maps its VOC21 config reads:
        np.savez(osp.splitext(path)[0] + '.npz',       # one region (nothing segmented)
                 instance_mask=np.zeros(size, np.int64))
    masks = osp.dirname(images[0][0])
    seg = corrclip_segmentor.CorrCLIPSegmentation(
        clip_type='metaclip_fullcc', model_type='ViT-B-16-quickgelu', dino_type='dino_vitb8',
        mask_generator=None, name_path='./configs/cls_voc21.txt', device=torch.device('cpu'),
        instance_mask_path=masks, prob_thd=0.2)
    return seg


def build_trident(root: str, dino: str | None, images: list):
    _enter(root)
    _fp32_half()
    _dino_hub(dino)
    _stub('openpyxl')                             # imported by its myutils, unused
    _fork_create_model(root, 'trident')
    import segment_anything
    _check_fork(root, segment_anything)           # its own copy (keeps the last attention)
    import trident
    return trident.Trident(
        clip_type='openai', model_type='ViT-B/16', vfm_model='dino', checkpoint=None,
        name_path='./configs/cls_voc21.txt', device=torch.device('cpu'), prob_thd=0.2,
        beta=1.2, cos_fac=1.2, refine_neg_cos=True, slide_stride=224, slide_crop=336,
        sam_model_type='vit_b', sam_iou_thresh=0.80, coarse_thresh=0.2, minimal_area=225,
        sam_ckpt=None, sam_refinement=True)


METHODS: dict[str, tuple[str, int, Callable]] = {     # name, VOC21 short side, builder
    'sclip': ('SCLIP', 336, build_sclip),
    'clearclip': ('ClearCLIP', 448, build_clearclip),
    'naclip': ('NACLIP', 336, build_naclip),
    'scclip': ('SC-CLIP', 336, build_scclip),
    'resclip': ('ResCLIP', 336, build_resclip),
    'proxyclip': ('ProxyCLIP', 336, build_proxyclip),
    'glaclip': ('GLA-CLIP', 336, build_glaclip),
    'corrclip': ('CorrCLIP', 336, build_corrclip),
    'trident': ('Trident', 448, build_trident),
}

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('method', help=f'one of: {", ".join(METHODS)}')
    parser.add_argument('official', help="checkout of the method's official repository")
    parser.add_argument('--dino', default=None,
                        help='checkout of github.com/facebookresearch/dino (methods with DINO)')
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args(argv)
    if args.method not in METHODS:
        parser.exit(2, f'official_speed.py: unknown method {args.method!r}; '
                       f'expected one of: {", ".join(METHODS)}\n')
    root = osp.abspath(args.official)
    if not osp.isdir(root):
        parser.exit(2, f'official_speed.py: {args.official!r} is not a directory; expected '
                       f'a checkout of the official {METHODS[args.method][0]} repository\n')
    label, short_side, build = METHODS[args.method]
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    gen = torch.Generator().manual_seed(0)
    images = []
    for h, w in SIZES:
        img = torch.rand(1, 3, h, w, generator=gen) * 255
        images.append(F.interpolate(img, size=resized(h, w, short_side), mode='bilinear',
                                    align_corners=False))
    # the resized images as files (Trident reads its image for SAM; CorrCLIP's region map
    # and GLA-CLIP's bookkeeping go by the file name): they are also the "original" size
    work = tempfile.mkdtemp(prefix='official_speed_')
    files = []
    for i, img in enumerate(images):
        path = osp.join(work, f'img{i}.png')
        pixels = img[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
        cv2.imwrite(path, pixels[:, :, ::-1])
        files.append((path, tuple(img.shape[-2:])))
    try:
        seg = build(root, osp.abspath(args.dino) if args.dino else None, files).eval()
        from mmseg.structures import SegDataSample
        paths = {id(img): path for img, (path, _) in zip(images, files)}

        def segment(img: torch.Tensor) -> None:
            shape = tuple(img.shape[-2:])
            batch = seg.data_preprocessor(dict(inputs=[img[0]], data_samples=[SegDataSample(
                metainfo=dict(ori_shape=shape, img_shape=shape, pad_shape=shape,
                              img_path=paths[id(img)]))]), False)
            seg.predict(batch['inputs'], batch['data_samples'])

        segment(images[0])                                   # warm-up
        wall, cpu = time.perf_counter(), time.process_time()
        for img in images:
            segment(img)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        shutil.rmtree(work, ignore_errors=True)
    shapes = ', '.join(f'{i.shape[-2]}x{i.shape[-1]}' for i in images)
    print(f'official {label} (VOC21 settings, fp32, {args.threads} threads): images {shapes}: '
          f'{len(images) / wall:.3f} images/s, {cpu / len(images):.2f} CPU s / image')


if __name__ == '__main__':
    main()
