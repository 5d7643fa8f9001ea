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
               clip=dict(arch='tiny-vit', pretrained=None, mean=[122.771, 116.746, 104.094],
                         std=[68.501, 66.632, 70.323]),
               vfm=dict(type='TimmVFM', name=None, model_name='vit_small_patch8_224.dino',
                        pretrained=None, model_kwargs=dict(depth=1, embed_dim=32,
                                                           num_heads=2)),
               templates='a photo of a {}.', slide_crop=56, slide_stride=28,
               data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True))
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
    none, labels_only = model.postprocess(logits, (50, 61),
                                          options=model.options.replace(keep_probs=False))
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


def _model_state(model) -> dict:
    """Every attribute of the model and its submodules (tensors by value)."""
    state = {}
    for name, module in model.named_modules():
        for key, value in vars(module).items():
            if key in ('_parameters', '_buffers', '_modules') or \
                    key.startswith(('_forward', '_backward', '_state_dict', '_load_state')):
                continue
            state[f'{name}.{key}'] = value
    return state, {k: v.clone() for k, v in model.state_dict().items()}


def _assert_same_state(before, after):
    (attrs0, tensors0), (attrs1, tensors1) = before, after
    assert attrs0.keys() == attrs1.keys()
    for key, value in attrs0.items():
        assert attrs1[key] is value or attrs1[key] == value, key
    for key, value in tensors0.items():
        assert torch.equal(tensors1[key], value), key


def test_options_are_arguments_of_predict_and_leave_the_model_as_it_was():
    """Two calls with different InferenceOptions on one model give what a model configured
    with those settings gives (the threshold checked against the probabilities by hand),
    and change no attribute of the model."""
    from langseg.models.segmentors.open_vocab import InferenceOptions
    from langseg.utils.errors import ConfigError
    model = tiny_proxyclip()
    torch.manual_seed(2)
    img = torch.randn(1, 3, 60, 84)
    with torch.no_grad():
        plain = model.predict(img)[0]                        # text cache filled here
    best = plain.seg_logits.data.max(0).values
    thd = float(best.median())
    before = _model_state(model)
    assert model.options == InferenceOptions()               # the config's (defaults)
    high = model.options.replace(prob_thd=thd)
    refined = InferenceOptions(pamr=dict(num_iter=2, dilations=(1, 2)), keep_probs=False)
    with torch.no_grad():
        out_high = model.predict(img, options=high)[0]
        out_pamr = model.predict(img, options=refined)[0]
        again = model.predict(img)[0]
    _assert_same_state(before, _model_state(model))
    assert model.prob_thd == 0.0 and model.pamr is None and model.keep_probs
    # the threshold: the unthresholded labels, class 0 where the best probability < thd
    ref = plain.pred_sem_seg.data.clone()
    ref[0][best < thd] = 0
    assert torch.equal(out_high.pred_sem_seg.data, ref)
    assert (ref != plain.pred_sem_seg.data).any()            # the threshold did something
    assert torch.equal(again.pred_sem_seg.data, plain.pred_sem_seg.data)
    # the PAMR options: equal to a model whose config says the same
    configured = tiny_proxyclip(pamr=dict(num_iter=2, dilations=(1, 2)), keep_probs=False)
    with torch.no_grad():
        ref_pamr = configured.predict(img)[0]
    assert 'seg_logits' not in out_pamr
    assert torch.equal(out_pamr.pred_sem_seg.data, ref_pamr.pred_sem_seg.data)
    # frozen, checked like the config
    with pytest.raises(AttributeError):
        model.options.prob_thd = 0.5
    with pytest.raises(AttributeError):
        model.prob_thd = 0.5
    with pytest.raises(ConfigError, match='num_iters'):
        InferenceOptions(pamr=dict(num_iters=3))
    with pytest.raises(ConfigError, match='tile_row'):
        model.options.replace(tile_row=8)
    assert InferenceOptions(pamr=True).pamr == dict(num_iter=10, dilations=(8, 16))


def test_the_inference_api_serves_threads_with_their_own_options():
    """OpenVocabularySegmenter passes each call's options to predict: two threads with
    different thresholds on one segmenter get their own results, and while the windows
    run the model still holds its config's settings (nothing is written into it)."""
    import threading

    import numpy as np
    from mmengine.config import Config

    from langseg.apis import OpenVocabularySegmenter
    model_cfg = dict(type='ProxyCLIPSegmentor', class_names=['sky; cloud', 'cat', 'dog'],
                     clip=dict(arch='tiny-vit', pretrained=None,
                               mean=[122.771, 116.746, 104.094],
                               std=[68.501, 66.632, 70.323]),
                     vfm=dict(type='TimmVFM', name=None,
                              model_name='vit_small_patch8_224.dino', pretrained=None,
                              model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
                     templates='a photo of a {}.', slide_crop=56, slide_stride=28,
                     data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True))
    torch.manual_seed(0)
    seg = OpenVocabularySegmenter(Config(dict(model=model_cfg, default_scope='mmseg')),
                                  device='cpu', short_side=0)
    words = 'sky; cloud, cat, dog'
    image = np.random.default_rng(0).integers(0, 255, (60, 84, 3), dtype=np.uint8)
    plain = seg(image, words)
    thd = float(np.median(plain.probs.max(0)))
    expected = {0.0: plain.labels, thd: np.where(plain.probs.max(0) < thd, 0, plain.labels)}
    assert not np.array_equal(expected[0.0], expected[thd])
    seen = []   # the model's own settings whenever a window batch runs
    seg.model.visual.conv1.register_forward_hook(
        lambda *_: seen.append((seg.model.prob_thd, seg.model.pamr, seg.model.keep_probs)))
    before = _model_state(seg.model)
    results, errors = {0.0: [], thd: []}, []
    barrier = threading.Barrier(2)

    def work(value):
        try:
            barrier.wait()
            for _ in range(3):
                results[value].append(seg(image, words, prob_thd=value).labels)
        except Exception as exc:  # noqa: BLE001  (reported by the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(v, )) for v in (0.0, thd)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for value, labels in results.items():
        assert len(labels) == 3
        for got in labels:
            assert np.array_equal(got, expected[value])
    assert seen and set(seen) == {(0.0, None, True)}
    _assert_same_state(before, _model_state(seg.model))
