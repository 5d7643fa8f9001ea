"""Record CorrCLIP's official outputs on seeded tiny random weights (fp32, CPU).

Usage::

    python tools/parity/record_corrclip.py CORRCLIP_V1_DIR DINO_DIR OUT.pt

``CORRCLIP_V1_DIR``: the ``CorrCLIPv1/`` folder of github.com/zdk258/CorrCLIP (its
``corrclip_segmentor.py`` and vendored ``open_clip``); ``DINO_DIR``: a checkout of
github.com/facebookresearch/dino (its ``vision_transformer.py``, what the official code's
``torch.hub.load('facebookresearch/dino:main', ...)`` builds). Not run by the tests: it
wrote ``tests/data/parity/corrclip.pt``, which ``tests/test_zoo_corrclip.py`` compares
langseg's CorrCLIP with.

The official model is the official ``CorrCLIPSegmentation`` with its towers set by hand
(its ``__init__`` downloads MetaCLIP and DINO weights): the vendored open_clip ``CLIP``
built for the tiny architecture below and DINO's ``VisionTransformer``, both with the
weights of :func:`seeded_weights` (one generator per parameter name, so langseg's test
makes the same numbers from its own module's names). What runs is the official code:
``predict`` (its SAM2 branch of ``generate_mask`` paints the recorded boolean masks, given
by a stand-in generator, into its instance map; the sliding window; the modified
``VisionTransformer.forward``: mask merging, scope and value reconstruction, the three
branches; ``postprocess_result`` with the map correction). Three things are changed for
fp32 on a CPU, none of them in the computation: ``Tensor.half`` is the identity (the
official code casts to fp16 for CUDA), ``sklearn.cluster.DBSCAN`` (scikit-learn is not
installed here) is replaced by scikit-learn's algorithm written out below (radius
neighbours with ``d <= eps`` on the precomputed distances, clusters numbered in the order
of their first core point), and the unused imports of the other mask generators
(transformers, EoMT, CropFormer, SAM2) and of ``openpyxl`` are stubbed.
"""
from __future__ import annotations

import math
import os
import sys
import tempfile
import types
import zlib

import numpy as np
import torch

TINY_CLIP = dict(embed_dim=32,
                 vision_cfg=dict(image_size=64, layers=12, width=32, patch_size=16,
                                 head_width=16),
                 text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2,
                               layers=2))
TINY_DINO = dict(patch_size=8, embed_dim=32, depth=2, num_heads=2)
CLASS_NAMES = ['sky; background', 'cat', 'dog']
#: stored logits: every SUB-th row and column (the file stays small)
SUB = 3
CLIP_MEAN = [122.771, 116.746, 104.094]
CLIP_STD = [68.501, 66.632, 70.323]
CROP, STRIDE = 112, 56
LOGIT_SCALE, PROB_THD = 40.0, 0.1
# (input size, original size, number of masks) of the two images
IMAGES = [((100, 170), (120, 204), 9), ((150, 120), (150, 120), 7)]
WINDOWS = [(112, 112), (112, 168)]


def seeded_weights(names_shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Random weights by parameter name (one generator per name, seeded by its crc32):
    norms' weights near 1, matrices scaled by their fan-in, positions and class tokens
    far from smooth."""
    out = {}
    for name, shape in names_shapes.items():
        gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        x = torch.randn(shape, generator=gen)
        leaf = name.rsplit('.', 1)[-1]
        if ('ln' in name or 'norm' in name) and leaf == 'weight':
            x = 1 + 0.1 * x
        elif 'pos' in name:
            x = 0.5 * x
        elif leaf in ('class_embedding', 'cls_token'):
            x = 0.5 * x
        elif len(shape) >= 2:
            x = x / math.sqrt(math.prod(shape[1:]) if name.endswith('weight') else shape[0])
        else:
            x = 0.1 * x
        out[name] = x
    return out


def seeded_masks(seed: int, size: tuple[int, int], n: int) -> torch.Tensor:
    """``n`` boolean masks (n, H, W): random rectangles and ellipses, some overlapping,
    part of the image covered by none."""
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    masks = []
    for i in range(n):
        cy, cx = (torch.rand(2, generator=gen) * torch.tensor([h, w])).tolist()
        ry, rx = (torch.rand(2, generator=gen) * torch.tensor([h, w]) * 0.35 + 6).tolist()
        if i % 2:
            m = (((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2) <= 1
        else:
            m = ((ys - cy).abs() <= ry) & ((xs - cx).abs() <= rx)
        masks.append(m)
    return torch.stack(masks)


def seeded_image(seed: int, size: tuple[int, int]) -> torch.Tensor:
    """RGB pixels (3, H, W) in [0, 255], integers (they go through a PNG file)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, *size), generator=gen).float()


class DBSCAN:
    """scikit-learn's ``DBSCAN(metric='precomputed')`` (``fit_predict``): neighbours
    within ``eps`` (``d <= eps``), core points with at least ``min_samples`` neighbours
    (themselves included), clusters grown breadth-first from core points taken in index
    order and numbered in that order, non-core points not reached: -1."""

    def __init__(self, metric='precomputed', eps=0.5, min_samples=5):
        if metric != 'precomputed':
            raise NotImplementedError('the official code calls DBSCAN(metric=\'precomputed\')')
        self.eps, self.min_samples = eps, min_samples

    def fit_predict(self, dist):
        dist = np.asarray(dist)
        n = dist.shape[0]
        neighbours = [np.where(dist[i] <= self.eps)[0] for i in range(n)]
        core = np.array([len(nb) >= self.min_samples for nb in neighbours])
        labels = np.full(n, -1, dtype=np.intp)
        label = 0
        for i in range(n):
            if labels[i] != -1 or not core[i]:
                continue
            stack = [i]
            while stack:
                j = stack.pop()
                if labels[j] == -1:
                    labels[j] = label
                    if core[j]:
                        stack.extend(k for k in neighbours[j] if labels[k] == -1)
            label += 1
        DBSCAN.calls.append(labels.tolist())
        return labels

    calls: list = []


def stub_modules() -> None:
    import importlib.machinery as machinery
    sklearn = types.ModuleType('sklearn')
    cluster = types.ModuleType('sklearn.cluster')
    for module in (sklearn, cluster):   # torch's import checks read __spec__
        module.__spec__ = machinery.ModuleSpec(module.__name__, None)
    cluster.DBSCAN = DBSCAN
    sklearn.cluster = cluster
    sys.modules.update({'sklearn': sklearn, 'sklearn.cluster': cluster})
    transformers = types.ModuleType('transformers')
    transformers.AutoImageProcessor = transformers.Mask2FormerForUniversalSegmentation = None
    sys.modules['transformers'] = transformers
    sys.modules['openpyxl'] = types.ModuleType('openpyxl')
    for name in ('transformers', 'openpyxl'):
        sys.modules[name].__spec__ = machinery.ModuleSpec(name, None)


class StandInGenerator:
    """What the official SAM2 branch reads from ``SAM2AutomaticMaskGenerator.generate``:
    a list of ``dict(segmentation=bool (H, W), area=int)``."""

    def __init__(self, masks_by_size):
        self.masks_by_size = masks_by_size

    def generate(self, image):
        masks = self.masks_by_size[image.shape[:2]]
        return [dict(segmentation=m.numpy(), area=int(m.sum())) for m in masks]


def main(official: str, dino_dir: str, out_path: str) -> None:
    stub_modules()
    sys.path[:0] = [official]
    import open_clip as official_open_clip   # the vendored copy
    if not os.path.abspath(official_open_clip.__file__).startswith(os.path.abspath(official)):
        raise SystemExit(f'open_clip was imported from {official_open_clip.__file__}, not from '
                         f'the official folder {official}: pass the CorrCLIPv1 folder')
    import corrclip_segmentor as official_segmentor
    from mmseg.structures import SegDataSample
    from PIL import Image
    sys.path.insert(0, dino_dir)
    import vision_transformer as dino_vits
    torch.Tensor.half = lambda self: self   # fp32 on a CPU (the official code casts to fp16)

    torch.manual_seed(0)
    clip = official_open_clip.model.CLIP(TINY_CLIP['embed_dim'], TINY_CLIP['vision_cfg'],
                                         TINY_CLIP['text_cfg'])
    state = {k: v for k, v in clip.state_dict().items() if k not in ('attn_mask', )}
    state.pop('logit_scale', None)
    clip.load_state_dict(seeded_weights({k: tuple(v.shape) for k, v in state.items()}),
                         strict=False)
    dino = dino_vits.VisionTransformer(qkv_bias=True, **TINY_DINO)
    dstate = {f'dino.{k}': tuple(v.shape) for k, v in dino.state_dict().items()}
    dino.load_state_dict({k[5:]: v for k, v in seeded_weights(dstate).items()})
    clip.eval(), dino.eval()

    tmp = tempfile.mkdtemp()
    names = os.path.join(tmp, 'names.txt')
    with open(names, 'w') as f:
        f.write('\n'.join(CLASS_NAMES) + '\n')

    model = official_segmentor.CorrCLIPSegmentation.__new__(
        official_segmentor.CorrCLIPSegmentation)
    torch.nn.Module.__init__(model)
    from mmseg.models.data_preprocessor import SegDataPreProcessor
    model.data_preprocessor = SegDataPreProcessor(mean=CLIP_MEAN, std=CLIP_STD,
                                                  bgr_to_rgb=True)
    model.clip = clip
    model.tokenizer = official_open_clip.tokenizer.tokenize
    model.dino = dino
    model.dino_qkv_output = None
    dino.blocks[-1].attn.qkv.register_forward_hook(model._hook_fn_forward_qkv)
    from torchvision import transforms
    model.unnorm = official_segmentor.UnNormalize([0.48145466, 0.4578275, 0.40821073],
                                                  [0.26862954, 0.26130258, 0.27577711])
    model.norm = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    model.generate_category_embeddings(names, torch.device('cpu'))
    model.dtype = model.query_features.dtype
    model.logit_scale, model.prob_thd = LOGIT_SCALE, PROB_THD
    model.slide_stride, model.slide_crop = STRIDE, CROP
    model.instance_mask_path, model.device = None, torch.device('cpu')
    model.mask_generator_type = 'sam2'

    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    record = dict(class_names=CLASS_NAMES, sub=SUB, clip_arch=TINY_CLIP, dino=TINY_DINO,
                  crop=CROP, stride=STRIDE, logit_scale=LOGIT_SCALE, prob_thd=PROB_THD,
                  query_features=model.query_features.clone())

    # the image-level prediction: one image at a time (the official code's batch size 1)
    masks_by_size, packed = {}, []
    for i, (in_size, ori_size, n) in enumerate(IMAGES):
        masks = seeded_masks(10 + i, ori_size, n)
        masks_by_size[tuple(ori_size)] = masks
        packed.append(dict(shape=tuple(masks.shape),
                           bits=torch.from_numpy(np.packbits(masks.numpy().ravel()))))
    model.mask_generator = StandInGenerator(masks_by_size)
    images, logits, labels, instance_maps = [], [], [], []
    for i, (in_size, ori_size, n) in enumerate(IMAGES):
        rgb = seeded_image(20 + i, in_size)
        images.append(rgb)
        path = os.path.join(tmp, f'img{i}.png')   # what generate_mask opens: its size
        Image.fromarray(np.zeros((*ori_size, 3), np.uint8)).save(path)
        sample = SegDataSample(metainfo=dict(ori_shape=ori_size, img_shape=in_size,
                                             img_path=path))
        inputs = ((rgb - mean) / std)[None]
        with torch.no_grad():
            instance = model.generate_mask(path)
            maps = torch.nn.functional.interpolate(instance[None, None].float(),
                                                   size=in_size, mode='nearest').int()
            seg = model.forward_slide(inputs, maps, [sample.metainfo], STRIDE, CROP)
            model.predict(inputs, [sample])
        instance_maps.append(instance.to(torch.uint8))
        logits.append(seg[0, :, ::SUB, ::SUB].clone())
        labels.append(sample.pred_sem_seg.data[0].to(torch.uint8))
    record.update(image_sizes=[s for s, _, _ in IMAGES], ori_sizes=[o for _, o, _ in IMAGES],
                  masks=packed, instance_maps=instance_maps, image_logits=logits,
                  image_labels=labels)

    # window logits: a square and a non-square window of the first image's masks
    windows = {}
    for j, size in enumerate(WINDOWS):
        rgb = seeded_image(30 + j, size)
        instance = model.generate_mask(os.path.join(tmp, 'img0.png'))
        maps = torch.nn.functional.interpolate(instance[None, None].float(), size=size,
                                               mode='nearest').int()
        with torch.no_grad():
            windows[size] = model.forward_feature(((rgb - mean) / std)[None],
                                                  maps)[0, :, ::SUB, ::SUB].clone()
    record['windows'] = windows
    torch.save(record, out_path)
    print('DBSCAN labels of each call:', DBSCAN.calls)
    print({k: (tuple(v.shape) if torch.is_tensor(v) else v) for k, v in record.items()
           if k not in ('masks', 'instance_maps', 'image_logits', 'image_labels',
                        'windows')})


if __name__ == '__main__':
    main(*sys.argv[1:4])
