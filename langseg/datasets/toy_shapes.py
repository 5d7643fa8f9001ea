"""A procedurally generated segmentation dataset: coloured, textured shapes on clutter.

It exists so that every tool, test and the demo run on a fresh machine with no download.
Classes are words ("red circle", "blue square", ...) so that language-guided models have
something meaningful to embed. Images are deterministic functions of ``(seed, split,
index)``; the dataset is generated on first use, atomically (a temporary folder renamed
into place), in ADE20K's folder layout::

    data_root/
      images/{training,validation}/toy_00000.jpg
      annotations/{training,validation}/toy_00000.png   # uint8, 0 = background
      meta.json                                         # the generation settings

To make the task non-trivial the background is clutter (smooth colour gradients, lines,
blobs, sensor noise) and holds *distractor* shapes whose colour is not a class colour
(grey, purple, brown), so the model must use both colour and shape.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
from mmseg.datasets import BaseSegDataset

from ..registry import DATASETS
from ..utils.class_names import register_class_names
from ..utils.errors import DataError

TOY_COLOURS: dict[str, tuple[int, int, int]] = {
    'red': (215, 45, 40),
    'green': (40, 165, 70),
    'blue': (45, 85, 215),
}
TOY_SHAPES: tuple[str, ...] = ('circle', 'square', 'triangle')
TOY_CLASSES: tuple[str, ...] = ('background', ) + tuple(
    f'{colour} {shape}' for colour in TOY_COLOURS for shape in TOY_SHAPES)
TOY_PALETTE: list[list[int]] = [[0, 0, 0]] + [
    [int(c * f) for c in rgb] for rgb in TOY_COLOURS.values() for f in (1.0, 0.7, 0.45)
]
# Colours of distractor shapes: never a class colour.
_DISTRACTOR_COLOURS = [(128, 128, 128), (140, 70, 160), (130, 95, 50), (200, 200, 200)]
register_class_names('toy', TOY_CLASSES)
_SPLITS = {'training': 'num_train', 'validation': 'num_val'}
GENERATOR_VERSION = 1


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A multiplicative brightness texture in [0.55, 1.15] (solid, stripes, dots, noise)."""
    kind = rng.integers(4)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 0:  # solid
        tex = np.ones((h, w), np.float32)
    elif kind == 1:  # stripes at a random angle
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(3, 7)
        phase = np.cos(angle) * xx + np.sin(angle) * yy
        tex = 0.85 + 0.25 * (np.sin(2 * np.pi * phase / period) > 0)
    elif kind == 2:  # dots
        period = int(rng.integers(4, 7))
        tex = np.where((xx % period < 2) & (yy % period < 2), 0.6, 1.05).astype(np.float32)
    else:  # smooth noise
        small = rng.uniform(0.6, 1.15, size=(max(h // 4, 2), max(w // 4, 2))).astype(np.float32)
        tex = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return tex.astype(np.float32)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Clutter: a muted gradient, random lines and blobs."""
    c0 = rng.uniform(60, 190, size=3)
    c1 = rng.uniform(60, 190, size=3)
    t = np.linspace(0, 1, size, dtype=np.float32)
    grad = t[:, None] if rng.random() < 0.5 else t[None, :]
    img = (c0[None, None] * (1 - grad[..., None]) + c1[None, None] * grad[..., None])
    img = np.broadcast_to(img, (size, size, 3)).astype(np.float32).copy()
    # Desaturate the clutter so that class colours stay class colours.
    grey = img.mean(axis=2, keepdims=True)
    img = 0.35 * img + 0.65 * grey
    for _ in range(int(rng.integers(3, 8))):  # lines
        p0 = tuple(int(v) for v in rng.integers(0, size, 2))
        p1 = tuple(int(v) for v in rng.integers(0, size, 2))
        col = tuple(float(v) for v in rng.uniform(40, 220, 1).repeat(3) + rng.uniform(-15, 15, 3))
        cv2.line(img, p0, p1, col, int(rng.integers(1, 3)))
    for _ in range(int(rng.integers(2, 6))):  # blobs
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = tuple(int(v) for v in rng.integers(2, max(size // 10, 3), 2))
        col = tuple(float(v) for v in rng.uniform(50, 210, 1).repeat(3) + rng.uniform(-20, 20, 3))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, col, -1)
    return img


def _shape_mask(rng: np.random.Generator, shape: str, size: int) -> np.ndarray:
    """A binary mask of one shape at a random position, scale and (small) rotation."""
    mask = np.zeros((size, size), np.uint8)
    radius = rng.uniform(0.11, 0.21) * size
    cx, cy = rng.uniform(radius, size - radius, 2)
    if shape == 'circle':
        cv2.circle(mask, (int(round(cx)), int(round(cy))), int(round(radius)), 1, -1)
    else:
        n = 4 if shape == 'square' else 3
        start = np.pi / 4 if n == 4 else -np.pi / 2  # axis-aligned square, upright triangle
        theta = start + rng.uniform(-0.35, 0.35) + np.arange(n) * 2 * np.pi / n
        pts = np.stack([cx + radius * np.cos(theta), cy + radius * np.sin(theta)], axis=1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask.astype(bool)


def render_toy_sample(seed: int, split: str, index: int, size: int = 96,
                      max_objects: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Render one (RGB image uint8 HxWx3, label map uint8 HxW) pair, deterministically."""
    split_id = list(_SPLITS).index(split)
    rng = np.random.default_rng([seed, split_id, index])
    img = _background(rng, size)
    label = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(0, 3))):  # distractors (background class)
        mask = _shape_mask(rng, TOY_SHAPES[rng.integers(len(TOY_SHAPES))], size)
        colour = np.array(_DISTRACTOR_COLOURS[rng.integers(len(_DISTRACTOR_COLOURS))], np.float32)
        img[mask] = colour * _texture(rng, size, size)[mask][:, None]
    colours = list(TOY_COLOURS)
    occupied = np.zeros((size, size), bool)
    for _ in range(int(rng.integers(1, max_objects + 1))):
        ci, si = int(rng.integers(len(colours))), int(rng.integers(len(TOY_SHAPES)))
        for _attempt in range(10):  # objects do not overlap, so every shape stays whole
            mask = _shape_mask(rng, TOY_SHAPES[si], size)
            if not (mask & occupied).any():
                break
        else:
            continue
        occupied |= cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        base = np.array(TOY_COLOURS[colours[ci]], np.float32) + rng.uniform(-20, 20, 3)
        img[mask] = base[None] * _texture(rng, size, size)[mask][:, None]
        label[mask] = 1 + ci * len(TOY_SHAPES) + si
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), label


def generate_toy_shapes(data_root: str, num_train: int = 3000, num_val: int = 200,
                        size: int = 96, seed: int = 0, progress: bool = True) -> str:
    """Generate the toy dataset under ``data_root`` if absent; return ``data_root``.

    Writing happens in a sibling temporary folder renamed into place at the end, so an
    interrupted run leaves no half-written dataset and concurrent processes (DDP ranks)
    are safe. An existing root generated with other settings is an error, never deleted.
    """
    settings = dict(num_train=num_train, num_val=num_val, size=size, seed=seed,
                    version=GENERATOR_VERSION)
    meta_path = osp.join(data_root, 'meta.json')
    if osp.isdir(data_root):
        if not osp.isfile(meta_path):
            raise DataError(f'toy data root {data_root} exists but holds no meta.json: '
                            'expected a folder generated by langseg (remove it or choose '
                            'another data_root)')
        with open(meta_path) as f:
            found = json.load(f)
        if found != settings:
            raise DataError(f'toy data root {data_root} was generated with {found}, the '
                            f'config asks for {settings}: remove the folder or set another '
                            'data_root')
        return data_root
    from tqdm import tqdm
    parent = osp.dirname(osp.abspath(data_root))
    os.makedirs(parent, exist_ok=True)
    tmp = f'{osp.abspath(data_root)}.tmp-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        jobs = [(split, i) for split, key in _SPLITS.items() for i in range(settings[key])]
        for split in _SPLITS:
            os.makedirs(osp.join(tmp, 'images', split))
            os.makedirs(osp.join(tmp, 'annotations', split))
        for split, i in tqdm(jobs, desc=f'generating toy shapes in {data_root}',
                             disable=not progress, unit='img'):
            img, label = render_toy_sample(seed, split, i, size)
            name = f'toy_{i:05d}'
            cv2.imwrite(osp.join(tmp, 'images', split, name + '.jpg'), img[..., ::-1],
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(tmp, 'annotations', split, name + '.png'), label)
        with open(osp.join(tmp, 'meta.json'), 'w') as f:
            json.dump(settings, f)
        try:
            os.rename(tmp, data_root)
        except OSError:  # another process finished first
            if not osp.isfile(meta_path):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return data_root


def toy_caption(label: np.ndarray) -> str:
    """A caption naming every toy object of a label map, the first two with their spatial
    relation: "a red circle above a blue square and a green triangle"."""
    objects = []
    for cls in np.unique(label):
        if cls == 0:
            continue
        ys, xs = np.nonzero(label == cls)
        objects.append((len(ys), TOY_CLASSES[cls], ys.mean(), xs.mean()))
    if not objects:
        return 'clutter with no object'
    objects.sort(key=lambda o: -o[0])
    words = f'a {objects[0][1]}'
    if len(objects) > 1:
        (_, _, ya, xa), (_, name, yb, xb) = objects[0], objects[1]
        if abs(ya - yb) >= abs(xa - xb):
            relation = 'above' if ya < yb else 'below'
        else:
            relation = 'left of' if xa < xb else 'right of'
        words += f' {relation} a {name}'
    for _, name, _, _ in objects[2:]:
        words += f' and a {name}'
    return words


def generate_toy_image_text(data_root: str, split: str = 'training',
                            out: str | None = None) -> str:
    """Write ``captions_{split}.csv`` (columns image, caption) for a generated toy root:
    the image-text set of SegCLIP's CPU run. Returns the path (kept if present)."""
    out = out or osp.join(data_root, f'captions_{split}.csv')
    if osp.isfile(out):
        return out
    image_dir = osp.join(data_root, 'images', split)
    if not osp.isdir(image_dir):
        raise DataError(f'{image_dir} does not exist: generate the toy shapes first')
    import csv
    rows = []
    for name in sorted(os.listdir(image_dir)):
        label = cv2.imread(osp.join(data_root, 'annotations', split,
                                    osp.splitext(name)[0] + '.png'), cv2.IMREAD_GRAYSCALE)
        rows.append((f'images/{split}/{name}', toy_caption(label)))
    tmp = f'{out}.{os.getpid()}.tmp'
    with open(tmp, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image', 'caption'])
        writer.writerows(rows)
    os.replace(tmp, out)
    return out


@DATASETS.register_module()
class ToyShapesDataset(BaseSegDataset):
    """The toy shapes dataset (see module docstring); generated on first use.

    Args:
        generate (dict): generation settings passed to :func:`generate_toy_shapes`
            (``num_train``, ``num_val``, ``size``, ``seed``). Every dataset built on the
            same ``data_root`` must use the same settings.
        **kwargs: as for mmseg's ``BaseSegDataset``.
    """
    METAINFO = dict(classes=TOY_CLASSES, palette=TOY_PALETTE)

    def __init__(self,
                 data_root: str,
                 generate: dict | None = None,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        generate_toy_shapes(data_root, **(generate or {}))
        super().__init__(data_root=data_root, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label,
                         **kwargs)

