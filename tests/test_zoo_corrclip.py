"""CorrCLIP (Zhang, Liu and Tang, ICCV 2025, arXiv:2411.10086) equals its official code
(github.com/zdk258/CorrCLIP, ``CorrCLIPv1/``) on identical random weights, fp32, CPU.

``tests/data/parity/corrclip.pt`` holds the official outputs, recorded by
``tools/parity/record_corrclip.py`` from the official ``CorrCLIPSegmentation`` and its
modified open_clip ``VisionTransformer`` (towers: a 12-block tiny CLIP ViT, a tiny DINO
ViT/8; weights by parameter name, :func:`seeded_weights`): the window logits of a square
and a non-square window, and the sliding-window logits and labels of two images of
different sizes, one of them with an original size other than its input size. The region
masks are stored in the file and given to both: the official code painted them into its
instance map (its SAM2 branch), langseg through a stand-in generator, so the mechanism is
pinned independently of any mask model. The mechanism's pieces are also checked against
small references written here from the official code's steps."""
import math
import os.path as osp
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

import langseg  # noqa: F401
from langseg.models.backbones.mask_generators import (MaskGenerator, NoMaskGenerator,
                                                      PrecomputedMaskGenerator,
                                                      SuperpixelMaskGenerator,
                                                      paint_instance_map)
from langseg.utils.errors import ConfigError, DataError
from mmseg.registry import MODELS

from .conftest import REPO

DATA = osp.join(REPO, 'tests', 'data', 'parity', 'corrclip.pt')
CLIP_MEAN = [122.771, 116.746, 104.094]
CLIP_STD = [68.501, 66.632, 70.323]


def seeded_weights(names_shapes: dict) -> dict:
    """The recording script's weights by parameter name (one generator per name, seeded
    by its crc32; tools/parity/record_corrclip.py)."""
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


def official_name(name: str) -> str | None:
    """langseg's parameter name -> the recording's (official CLIP / DINO names)."""
    if name.startswith('visual.'):
        return name
    if name.startswith('text_encoder.text.'):
        return name[len('text_encoder.text.'):]
    if name.startswith('vfm.model.'):
        return 'dino.' + name[len('vfm.model.'):]
    return None


def seeded_image(seed: int, size) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, *size), generator=gen).float()


class RecordedMasks(MaskGenerator):
    """The recorded boolean masks of the image whose original size is asked for."""

    def __init__(self, masks_by_size: dict) -> None:
        super().__init__()
        self.masks_by_size = masks_by_size

    def forward(self, image, meta=None):
        return self.masks_by_size[tuple(meta['ori_shape'][:2])]


@pytest.fixture(scope='module')
def record():
    return torch.load(DATA, weights_only=True)


@pytest.fixture(scope='module')
def model(record):
    """langseg's CorrCLIP on the recording's weights and masks (built once)."""
    return build(record)


def unpack(packed: dict) -> torch.Tensor:
    n = math.prod(packed['shape'])
    bits = np.unpackbits(packed['bits'].numpy())[:n]
    return torch.from_numpy(bits.astype(bool)).view(*packed['shape'])


def build(record, **kwargs):
    init_default_scope('mmseg')
    dino = record['dino']
    cfg = dict(type='CorrCLIPSegmentor', class_names=list(record['class_names']),
               clip=dict(arch=record['clip_arch'], pretrained=None, mean=CLIP_MEAN,
                         std=CLIP_STD),
               vfm=dict(type='TimmVFM', name=None, model_name='vit_small_patch8_224.dino',
                        pretrained=None, pos_interp='bicubic-offset',
                        model_kwargs=dict(depth=dino['depth'], embed_dim=dino['embed_dim'],
                                          num_heads=dino['num_heads'])),
               mask_generator=dict(type='NoMaskGenerator'),
               templates='openai_imagenet', slide_crop=record['crop'],
               slide_stride=record['stride'], logit_scale=record['logit_scale'],
               prob_thd=record['prob_thd'], official_vfm_input=True,
               data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True))
    cfg.update(kwargs)
    model = MODELS.build(cfg).eval()
    state = model.state_dict()
    names = {k: official_name(k) for k in state}
    weights = seeded_weights({v: tuple(state[k].shape) for k, v in names.items() if v})
    model.load_state_dict({k: weights[v] for k, v in names.items() if v}, strict=False)
    model.mask_generator = RecordedMasks(
        {tuple(m['shape'][1:]): unpack(m) for m in record['masks']})
    return model


def test_text_queries_equal_the_official(record, model):
    text = F.normalize(model.text_encoder().float(), dim=-1)
    torch.testing.assert_close(text, record['query_features'], atol=1e-5, rtol=1e-5)


def test_painted_instance_maps_equal_the_official(record):
    for packed, official in zip(record['masks'], record['instance_maps']):
        torch.testing.assert_close(paint_instance_map(unpack(packed)), official.int())


@pytest.mark.parametrize('window', [0, 1])
def test_window_logits_equal_the_official(record, model, window):
    """A square and a non-square window, each with the first image's painted map
    resized (nearest) to it."""
    size, official = list(record['windows'].items())[window]
    rgb = seeded_image(30 + window, size)
    region = F.interpolate(record['instance_maps'][0][None, None].float(), size=size,
                           mode='nearest')[0]
    with torch.no_grad():
        ours = model.window_logits(torch.cat([rgb, region])[None])[0]
    sub = record['sub']
    diff = (ours[:, ::sub, ::sub] - official).abs().max().item()
    print(f'CorrCLIP window {tuple(size)}: max |logit diff| {diff:.2e}')
    assert diff < 1e-4


def test_image_prediction_equals_the_official(record, model):
    """A batch of two images of different sizes (padded together), the first with an
    original size other than its input size: merged logits and labels after the map
    correction."""
    from mmseg.structures import SegDataSample
    sizes, oris = record['image_sizes'], record['ori_sizes']
    images = [seeded_image(20 + i, s) for i, s in enumerate(sizes)]
    hmax, wmax = max(s[0] for s in sizes), max(s[1] for s in sizes)
    batch = torch.zeros(len(images), 3, hmax, wmax)
    samples = []
    for i, (img, s, o) in enumerate(zip(images, sizes, oris)):
        batch[i, :, :s[0], :s[1]] = img
        samples.append(SegDataSample(metainfo=dict(img_shape=tuple(s), ori_shape=tuple(o),
                                                   img_path=f'img{i}.png')))
    with torch.no_grad():
        regions = [model.region_map(img, s.metainfo) for img, s in zip(images, samples)]
        stacked = [torch.cat([img, F.interpolate(r[None, None].float(), size=img.shape[-2:],
                                                 mode='nearest')[0]])
                   for img, r in zip(images, regions)]
        logits = model.image_logits(stacked)
        model.predict(batch, samples)
    sub = record['sub']
    for i, o in enumerate(oris):
        full = F.interpolate(logits[i][None], size=tuple(o), mode='bilinear',
                             align_corners=False)[0]
        diff = (full[:, ::sub, ::sub] - record['image_logits'][i]).abs().max().item()
        labels = samples[i].pred_sem_seg.data[0]
        equal = (labels == record['image_labels'][i].long()).float().mean().item()
        print(f'CorrCLIP image {i} {tuple(o)}: max |logit diff| {diff:.2e}, '
              f'labels equal {100 * equal:.3f}%')
        assert diff < 1e-4
        assert equal >= 0.999
        assert len(torch.unique(labels)) > 1   # the check is not vacuous


def test_each_mechanism_step_moves_the_window_logits(record, model):
    """The parity above can fail: leaving out any one step of the mechanism (region
    merging, the scope, the temperature, a branch, the spatial blocks) moves the window
    logits far beyond the tolerance."""
    size, official = list(record['windows'].items())[0]
    rgb = seeded_image(30, size)
    region = F.interpolate(record['instance_maps'][0][None, None].float(), size=size,
                           mode='nearest')[0]
    window = torch.cat([rgb, region])[None]
    for change in (dict(merge_eps=-1.0), dict(tau=1.0), dict(spatial_weight=0.0),
                   dict(semantic_weight=0.0), dict(spatial_layers=[0])):
        kept = {k: getattr(model, k) for k in change}
        for k, v in change.items():
            setattr(model, k, v)
        with torch.no_grad():
            ours = model.window_logits(window)[0, :, ::record['sub'], ::record['sub']]
        assert (ours - official).abs().max() > 1e-3, change
        for k, v in kept.items():
            setattr(model, k, v)
    with torch.no_grad():   # no regions at all: also different
        ours = model.window_logits(torch.cat([rgb, torch.zeros_like(region)])[None])
    assert (ours[0, :, ::record['sub'], ::record['sub']] - official).abs().max() > 1e-3


# ------------------------------------------------------- the mechanism, step by step
def sklearn_dbscan_min1(dist: np.ndarray, eps: float) -> np.ndarray:
    """scikit-learn's DBSCAN (precomputed, min_samples=1): radius neighbours
    ``d <= eps``, clusters grown from points in index order, numbered in that order."""
    n = len(dist)
    labels, label = np.full(n, -1), 0
    for i in range(n):
        if labels[i] != -1:
            continue
        stack = [i]
        while stack:
            j = stack.pop()
            if labels[j] == -1:
                labels[j] = label
                stack.extend(np.where((dist[j] <= eps) & (labels == -1))[0].tolist())
        label += 1
    return labels


def test_connected_clusters_are_dbscan_with_one_sample():
    from langseg.methods.corrclip import connected_clusters
    gen = torch.Generator().manual_seed(0)
    for n in (1, 2, 5, 12, 30):
        feats = F.normalize(torch.randn(n, 4, generator=gen), dim=1)
        sim = feats @ feats.T
        dist = sim.max() - sim
        for eps in (0.2, 0.8, 1.5):
            ours = connected_clusters(dist, eps).numpy()
            np.testing.assert_array_equal(ours, sklearn_dbscan_min1(dist.numpy(), eps))


def official_merge(masks: torch.Tensor, feats: torch.Tensor, eps: float) -> torch.Tensor:
    """The official mask merging of one window (open_clip/transformer.py, "Mask
    Merging"), written out: region means, DBSCAN, ids 10000 + cluster."""
    masks = masks.clone()
    values = torch.unique(masks)
    if values.shape[0] > 2:
        regions = [v == masks for v in values]
        inst = F.normalize(torch.stack([feats[r.flatten()].mean(0) for r in regions]),
                           dim=1)[1:]
        sim = inst @ inst.T
        cluster = sklearn_dbscan_min1((sim.max() - sim).numpy(), eps)
        for idx, c in enumerate(cluster, start=1):
            masks[regions[idx]] = int(c) + 10000
    return masks


def official_scope(masks: torch.Tensor, similarity: torch.Tensor) -> torch.Tensor:
    """The official scope of one window ("Scope Reconstruction"), written out."""
    regions = [(v == masks).view(-1) for v in torch.unique(masks)]
    equal = torch.zeros_like(similarity).bool()
    for m in regions[1:]:
        equal += torch.outer(m, m)
    m = regions[0]
    equal += (m.unsqueeze(0) + m.unsqueeze(1)) * (similarity > similarity.mean())
    return equal


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_merging_and_scope_follow_the_official_steps(seed):
    from langseg.methods.corrclip import merge_regions, scope_mask
    gen = torch.Generator().manual_seed(seed)
    h, w = 9, 11
    masks = torch.randint(0, 6, (h, w), generator=gen)
    if seed == 2:
        masks[:, -3:] = 10000          # a padded strip
    base = torch.randn(6, 8, generator=gen)
    feats = F.normalize(base[masks.clamp(max=5).flatten()] +
                        0.3 * torch.randn(h * w, 8, generator=gen), dim=1)
    for eps in (0.05, 0.2, 0.6):
        merged = merge_regions(masks, feats, eps)
        torch.testing.assert_close(merged, official_merge(masks, feats, eps))
    sim = feats @ feats.T
    torch.testing.assert_close(scope_mask(merged, sim), official_scope(merged, sim))


def test_map_correction_is_the_official_per_region_mode():
    from langseg.methods.corrclip import correct_labels
    gen = torch.Generator().manual_seed(3)
    for covered in (False, True):
        region = torch.randint(0 if not covered else 1, 7, (20, 30), generator=gen)
        labels = torch.randint(0, 4, (20, 30), generator=gen)
        ref = labels.clone()
        values = torch.unique(region)[1:]   # the smallest id is left as it is
        for v in values:
            m = region == v
            ref[m] = torch.mode(labels[m])[0]
        torch.testing.assert_close(correct_labels(labels, region), ref)


def test_spatial_blocks_follow_the_official_rule():
    from langseg.methods.corrclip import spatial_blocks
    assert spatial_blocks(12) == [5, 6, 7, 8, 9]           # ViT-B: 5 blocks
    assert spatial_blocks(24) == list(range(10, 22))       # ViT-L: 12
    assert spatial_blocks(32) == list(range(2, 30))        # ViT-H: 28
    assert spatial_blocks(6) == [2, 3]                     # others: L - 4
    assert spatial_blocks(4) == [1]                        # test towers (no official rule)


# ------------------------------------------------------------------ mask generators
def test_paint_instance_map_sorts_by_area_and_overwrites():
    masks = torch.zeros(3, 4, 6, dtype=torch.bool)
    masks[0, :, :4] = True                 # area 16
    masks[1, 1:3, 1:3] = True              # area 4
    masks[2, 0, 5] = True                  # area 1
    out = paint_instance_map(masks)
    assert out[0, 5] == 1 and out[3, 5] == 0 and out[0, 0] == 3
    assert out[1, 1] == 3                  # the larger mask painted last
    assert paint_instance_map(torch.zeros(0, 4, 6, dtype=torch.bool)).eq(0).all()


def test_precomputed_generator_reads_the_official_npz(tmp_path):
    init_default_scope('mmseg')
    region = np.arange(12, dtype=np.int64).reshape(3, 4) % 3
    np.savez(tmp_path / 'img_7.npz', instance_mask=region)
    np.save(tmp_path / 'img_8.npy', region + 1)
    gen = MODELS.build(dict(type='PrecomputedMaskGenerator', folder=str(tmp_path)))
    image = torch.zeros(3, 6, 8)
    out = gen.instance_map(image, dict(img_path='/x/JPEGImages/img_7.jpg'))
    np.testing.assert_array_equal(out.numpy(), region)
    assert gen(image, dict(img_path='img_7.png')).shape == (2, 3, 4)
    np.testing.assert_array_equal(gen.instance_map(image, dict(img_path='a/img_8.jpg')),
                                  region + 1)
    with pytest.raises(DataError, match='no region masks for'):
        gen.instance_map(image, dict(img_path='img_9.jpg'))
    with pytest.raises(ConfigError, match='image path'):
        gen.instance_map(image, {})


def test_superpixel_and_empty_generators():
    init_default_scope('mmseg')
    image = torch.zeros(3, 40, 56)
    image[0, :20] = 255                     # four flat quadrants
    image[1, :, :28] = 255
    masks = MODELS.build(dict(type='SuperpixelMaskGenerator', n_segments=8))(image, {})
    assert masks.dtype == torch.bool and masks.shape[1:] == (40, 56)
    assert masks.shape[0] > 1 and masks.sum(0).eq(1).all()   # a partition
    empty = MODELS.build(dict(type='NoMaskGenerator'))
    assert empty(image, {}).shape == (0, 40, 56)
    assert isinstance(empty, NoMaskGenerator) and not isinstance(
        empty, (PrecomputedMaskGenerator, SuperpixelMaskGenerator))


def test_refusals(record):
    with pytest.raises(ConfigError, match='mask_generator'):
        build(record, mask_generator=None)
    with pytest.raises(ConfigError, match='short_side'):
        build(record, short_side=336)
    with pytest.raises(ConfigError, match='ViT VFM'):
        build(record, vfm=dict(type='ModuleLayerVFM', module=dict(
            type='mmseg.ResNetV1c', depth=18), layer='layer1'))
    with pytest.raises(ConfigError, match='spatial_layers'):
        build(record, spatial_layers=[11])


def test_bf16_cpu_copies_stay_close_to_the_official(record, model):
    """``cpu_precision='bf16'`` (bf16 copies of both towers on a CPU): the window logits
    stay within 1e-2 of the official fp32 ones and their arg-max agrees on >= 99 %."""
    size, official = list(record['windows'].items())[0]
    region = F.interpolate(record['instance_maps'][0][None, None].float(), size=size,
                           mode='nearest')[0]
    model.cpu_precision = 'bf16'
    try:
        with torch.no_grad():
            ours = model.window_logits(torch.cat([seeded_image(30, size), region])[None])[0]
    finally:
        model.cpu_precision, model._bf16_towers = 'fp32', None
    ours = ours[:, ::record['sub'], ::record['sub']]
    assert (ours - official).abs().max() < 1e-2
    assert (ours.argmax(0) == official.argmax(0)).float().mean() >= 0.99
