"""The shared open-vocabulary path: PAMR against a loop written from its formula, the
banded post-processing against the whole resize, PAMR configs."""
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

import langseg  # noqa: F401
from langseg.models.layers import pamr

from .conftest import REPO

NEIGHBOURS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def reference_pamr(image, masks, num_iter, dilations):
    """PAMR written pixel by pixel (Araslanov and Roth, CVPR 2020, Sec. 3.3): for pixel
    i and neighbours j (8 per dilation, coordinates clamped to the image),
    k = -|I_i - I_j| / (1e-8 + 0.1 sigma_i) averaged over channels, a = softmax_j k,
    m_i <- sum_j a_ij m_j; sigma_i the unbiased std of the 3x3 windows of all
    dilations (centre included each time), per channel."""
    _, c, h, w = image.shape
    img = image[0].double()

    def at(t, y, x):
        return t[:, min(max(y, 0), h - 1), min(max(x, 0), w - 1)]

    aff = {}
    for y in range(h):
        for x in range(w):
            window = [at(img, y + dy * d, x + dx * d) for d in dilations
                      for dy, dx in [(0, 0)] + NEIGHBOURS]
            sigma = torch.stack(window).std(dim=0)                     # per channel
            logits = []
            for d in dilations:
                for dy, dx in NEIGHBOURS:
                    diff = (img[:, y, x] - at(img, y + dy * d, x + dx * d)).abs()
                    logits.append((-diff / (1e-8 + 0.1 * sigma)).mean())
            aff[y, x] = torch.softmax(torch.stack(logits), dim=0)
    m = masks[0].double()
    for _ in range(num_iter):
        new = torch.zeros_like(m)
        for y in range(h):
            for x in range(w):
                j = 0
                for d in dilations:
                    for dy, dx in NEIGHBOURS:
                        new[:, y, x] += aff[y, x][j] * at(m, y + dy * d, x + dx * d)
                        j += 1
        m = new
    return m[None].float()


def test_pamr_equals_the_pixel_loop():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 5, 6)
    image[:, :, :, 3:] += 2.0                               # an edge the masks should keep
    masks = torch.randn(1, 4, 5, 6)
    ours = pamr(image, masks, num_iter=3, dilations=(1, 2))
    ref = reference_pamr(image, masks, 3, (1, 2))
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)
    # an affinity-weighted average: a constant mask stays constant, iterations smooth
    const = torch.full((1, 2, 5, 6), 0.7)
    torch.testing.assert_close(pamr(image, const, 5, (1, 2)), const)
    assert pamr(image, masks, 3, (1, 2)).std() < masks.std()


def test_pamr_resizes_the_masks_to_the_image():
    image = torch.rand(1, 3, 8, 8)
    small = torch.randn(1, 2, 4, 4)
    up = F.interpolate(small, size=(8, 8), mode='bilinear', align_corners=True)
    torch.testing.assert_close(pamr(image, small, 2, (1, )), pamr(image, up, 2, (1, )))


def tiny_proxyclip(**kwargs):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = dict(type='ProxyCLIPSegmentor', class_names=['sky; cloud', 'cat', 'dog'],
               clip=dict(arch='tiny-vit', pretrained=None),
               vfm=dict(type='TimmVFM', name=None, model_name='vit_small_patch8_224.dino',
                        pretrained=None, model_kwargs=dict(depth=1, embed_dim=32,
                                                           num_heads=2)),
               templates='a photo of a {}.', slide_crop=56, slide_stride=28,
               data_preprocessor=dict(type='SegDataPreProcessor', mean=[122.771, 116.746,
                                                                        104.094],
                                      std=[68.501, 66.632, 70.323], bgr_to_rgb=True))
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def test_banded_postprocess_equals_the_whole_resize():
    model = tiny_proxyclip(tile_rows=7, prob_thd=0.3)
    torch.manual_seed(1)
    logits = torch.randn(4, 13, 17) * 0.1
    probs, labels = model.postprocess(logits, (50, 61))
    full = F.interpolate(logits[None], size=(50, 61), mode='bilinear',
                         align_corners=False)[0]
    soft = torch.softmax(full * 40, dim=0)
    ref = torch.stack([soft[:2].max(0).values, soft[2], soft[3]])
    torch.testing.assert_close(probs, ref, atol=2e-5, rtol=1e-4)
    best, ref_labels = ref.max(0)
    ref_labels[best < 0.3] = 0
    assert torch.equal(labels, ref_labels)
    model.keep_probs = False
    none, labels_only = model.postprocess(logits, (50, 61))
    assert none is None and torch.equal(labels_only, labels)


def test_pamr_reaches_the_prediction_from_the_config():
    """pamr=dict(...) in the model config refines the logits of predict: equal to PAMR
    applied by hand on the window-merged logits with the image."""
    model = tiny_proxyclip(pamr=dict(num_iter=2, dilations=(1, 2)))
    plain = tiny_proxyclip()
    img = torch.randn(3, 60, 84)
    with torch.no_grad():
        out = model.predict(img[None])[0]
        logits = plain.image_logits([img])[0]
        refined = pamr(img[None], logits[None], 2, (1, 2))[0]
        probs, labels = plain.postprocess(refined, (60, 84))
    torch.testing.assert_close(out.seg_logits.data, probs, atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        unrefined = plain.predict(img[None])[0].seg_logits.data
    assert (unrefined - out.seg_logits.data).abs().max() > 1e-4


BENCHMARKS = ['voc21', 'context60', 'coco-object', 'voc20', 'context59', 'coco-stuff',
              'cityscapes', 'ade20k']


@pytest.mark.parametrize('benchmark', BENCHMARKS)
def test_every_benchmark_has_a_pamr_config(benchmark):
    from mmengine.config import Config
    path = osp.join(REPO, f'configs/proxyclip/proxyclip-pamr_vit-b16-dino-b8_{benchmark}.py')
    cfg = Config.fromfile(path)
    plain = Config.fromfile(path.replace('proxyclip-pamr_', 'proxyclip_'))
    assert cfg.model.pamr == dict(num_iter=10, dilations=[8, 16])
    cfg.model.pop('pamr')
    assert cfg.model == plain.model   # the PAMR row differs in nothing else
    assert len(glob.glob(osp.join(REPO, 'configs/proxyclip/*-pamr_*.py'))) == 8
