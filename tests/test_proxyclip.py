"""ProxyCLIP: the proxy attention against an explicit reference, its MaskCLIP limit, the
sliding windows (batched = one at a time, any shape, full coverage), batches of images of
different sizes, synonyms and thresholds."""
import math

import pytest
import torch
from mmengine.registry import init_default_scope

import langseg  # noqa: F401
from langseg.models.layers import proxy_affinity, proxy_attention
from langseg.models.segmentors.open_vocab import symmetric_padding, window_starts
from langseg.utils.errors import ConfigError
from mmseg.registry import MODELS

CLIP_MEAN = [122.771, 116.746, 104.094]
CLIP_STD = [68.501, 66.632, 70.323]
TINY_VFM = dict(type='TimmVFM', name=None, model_name='vit_small_patch8_224',
                pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2))


def tiny_proxyclip(**kwargs):
    init_default_scope('mmseg')
    cfg = dict(type='ProxyCLIPSegmentor', class_names=['sky; cloud', 'cat', 'dog; puppy'],
               clip=dict(arch='tiny-vit', pretrained=None, mean=CLIP_MEAN, std=CLIP_STD),
               vfm=TINY_VFM, templates='a photo of a {}.', slide_crop=56, slide_stride=28,
               data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True))
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def reference_proxy_attention(values, feats, beta, gamma, heads):
    """The formula of the official ProxyCLIP code (github.com/mc-lan/ProxyCLIP) with explicit loops over images and heads."""
    b, n, d = values.shape
    out = torch.zeros_like(values)
    for i in range(b):
        f = feats[i].flatten(1).T                                   # N, C
        f = f / f.norm(dim=1, keepdim=True)
        s = f @ f.T
        a = gamma * (s - beta * s.mean())
        for h in range(heads):
            sl = slice(h * d // heads, (h + 1) * d // heads)
            for r in range(n):
                keep = a[r] >= 0
                weights = torch.where(keep, torch.exp(a[r] - a[r][keep].max()),
                                      torch.zeros_like(a[r]))
                weights = weights / weights.sum()
                out[i, r, sl] = weights @ values[i, :, sl]
    return out


def test_proxy_attention_matches_the_explicit_formula():
    torch.manual_seed(1)
    feats = torch.randn(2, 16, 5, 6)
    values = torch.randn(2, 30, 12)
    ours = proxy_attention(values, feats, beta=1.2, gamma=3.0)
    ref = reference_proxy_attention(values, feats, 1.2, 3.0, heads=4)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    # the mean is per image: image 1 alone gives the same rows as in the batch
    torch.testing.assert_close(proxy_attention(values[1:], feats[1:]), ours[1:],
                               atol=1e-6, rtol=1e-6)


def test_orthonormal_vfm_features_reduce_to_the_value_path():
    values = torch.randn(1, 12, 8)
    feats = torch.eye(12).reshape(1, 12, 3, 4) * 5.0   # each token similar only to itself
    torch.testing.assert_close(proxy_attention(values, feats), values)


def test_all_masked_rows_do_not_give_nan():
    feats = torch.ones(1, 4, 2, 2) + 0.01 * torch.randn(1, 4, 2, 2)
    attn = proxy_affinity(feats, beta=5.0, gamma=3.0)   # beta * mean(S) > 1: all masked
    assert torch.isfinite(attn).all()
    torch.testing.assert_close(attn[0], torch.eye(4))


def test_segmentor_with_orthonormal_vfm_equals_maskclip():
    """The whole CLIP path: a VFM whose tokens are orthonormal on CLIP's own grid turns
    proxy attention into MaskCLIP's value-only last block, out_proj(v)."""

    class OrthonormalVFM(torch.nn.Module):
        def forward(self, rgb):
            b, _, h, w = rgb.shape
            n = (h // 16) * (w // 16)
            return torch.eye(n).reshape(1, n, h // 16, w // 16).expand(b, -1, -1, -1)

    proxy = tiny_proxyclip()
    proxy.vfm = OrthonormalVFM()
    maskclip = tiny_proxyclip(attention='maskclip')
    maskclip.load_state_dict(proxy.state_dict(), strict=False)
    x = torch.randn(2, 3, 64, 80)
    torch.testing.assert_close(proxy.dense_features(x), maskclip.dense_features(x),
                               atol=1e-5, rtol=1e-5)


def test_window_rule_covers_every_pixel_of_any_shape():
    assert window_starts(336, 336, 112) == [0]
    assert window_starts(448, 336, 112) == [0, 112]
    assert window_starts(500, 336, 112) == [0, 112, 164]
    assert window_starts(100, 336, 112) == [0]
    assert symmetric_padding(50, 75, 56) == (18, 19, 3, 3)
    model = tiny_proxyclip(slide_crop=336, slide_stride=112, window_batch_size=4)
    cover = torch.zeros(336, 448)
    for y1, y2, x1, x2 in model.windows.boxes(336, 448):
        cover[y1:y2, x1:x2] += 1
    assert cover.min() >= 1
    logits = model.image_logits([torch.randn(3, 336, 448)])[0]
    assert logits.shape == (3 + 2, 336, 448) and torch.isfinite(logits).all()


def _batch(images):
    from mmseg.structures import SegDataSample
    h = max(i.shape[-2] for i in images)
    w = max(i.shape[-1] for i in images)
    batch = torch.zeros(len(images), 3, h, w)
    samples = []
    for k, img in enumerate(images):
        batch[k, :, :img.shape[-2], :img.shape[-1]] = img
        samples.append(SegDataSample(metainfo=dict(img_shape=tuple(img.shape[-2:]),
                                                   ori_shape=tuple(img.shape[-2:]))))
    return batch, samples


def test_a_batch_of_two_sizes_equals_each_image_alone():
    model = tiny_proxyclip()
    torch.manual_seed(3)
    a, b = torch.randn(3, 70, 90), torch.randn(3, 100, 60)
    together = model.predict(*_batch([a, b]))
    alone = [model.predict(*_batch([img]))[0] for img in (a, b)]
    for t, s in zip(together, alone):
        assert torch.equal(t.pred_sem_seg.data, s.pred_sem_seg.data)
        torch.testing.assert_close(t.seg_logits.data, s.seg_logits.data, atol=1e-5, rtol=1e-4)
    assert together[1].pred_sem_seg.data.shape == (1, 100, 60)


def test_synonyms_take_the_max_and_the_threshold_gives_class_zero():
    model = tiny_proxyclip(prob_thd=0.0)
    logits = torch.zeros(5, 4, 4)   # queries: sky, cloud, cat, dog, puppy
    logits[1] = 1.0                  # 'cloud' (class 0's synonym) wins everywhere
    logits[4, 0, 0] = 2.0            # 'puppy' (class 2) wins one pixel
    probs, labels = model.postprocess(logits, (4, 4))
    assert probs.shape == (3, 4, 4)
    assert labels[0, 0] == 2 and (labels.flatten()[1:] == 0).all()
    soft = torch.softmax(logits * 40, dim=0)
    torch.testing.assert_close(probs[2], torch.maximum(soft[3], soft[4]))
    high = model.options.replace(prob_thd=0.99)
    _, labels = model.postprocess(torch.zeros(5, 4, 4), (4, 4), options=high)
    assert (labels == 0).all()   # a uniform 0.2 is below the threshold


def test_batched_windows_equal_one_at_a_time_in_fewer_forward_passes():
    """Batching is checked by what runs, not by the clock (timings: benchmarks/
    proxyclip_speed.py): a hook on the CLIP tower's patch embedding records the batch of
    every forward pass. A 140 x 196 image with crop 56 / stride 28 has mmseg's
    (140 - 56 + 27) // 28 + 1 = 4 by (196 - 56 + 27) // 28 + 1 = 6 = 24 windows."""
    model = tiny_proxyclip(slide_crop=56, slide_stride=28)
    batches = []
    model.visual.conv1.register_forward_hook(
        lambda _m, inputs, _out: batches.append(tuple(inputs[0].shape)))
    images = [torch.randn(3, 140, 196)]
    runs = {}
    for batch_size, expected in [(1, [1] * 24), (5, [5, 5, 5, 5, 4]), (64, [24]),
                                 ('auto', [3] * 8)]:      # 'auto': 3 windows on a CPU
        model.windows.batch_size = batch_size
        batches.clear()
        runs[batch_size] = model.image_logits(images)[0]
        assert [b[0] for b in batches] == expected, (batch_size, batches)
        assert all(b[1:] == (3, 56, 56) for b in batches)
    for batch_size in (5, 64, 'auto'):
        torch.testing.assert_close(runs[batch_size], runs[1], atol=1e-5, rtol=1e-4)
    # two images: windows of one shape from both images share a forward pass
    model.windows.batch_size = 64
    batches.clear()
    model.image_logits([torch.randn(3, 140, 196), torch.randn(3, 84, 84)])
    assert [b[0] for b in batches] == [24 + 4]             # 4 = 2 x 2 windows of 84 x 84


def test_text_is_encoded_once_across_windows_and_images(monkeypatch):
    monkeypatch.setenv('LANGSEG_CACHE_DIR', 'off')  # the in-memory cache (disk: test_text_cache)
    model = tiny_proxyclip()
    calls = []
    model.text_encoder.text.transformer.register_forward_hook(lambda *a: calls.append(1))
    model.predict(*_batch([torch.randn(3, 90, 120), torch.randn(3, 60, 60)]))
    model.predict(*_batch([torch.randn(3, 90, 120)]))
    assert len(calls) == 1


def test_bad_settings_have_clear_errors():
    with pytest.raises(ConfigError, match='unknown VFM'):
        tiny_proxyclip(vfm=dict(type='TimmVFM', name='dino-b7', pretrained=None))
    with pytest.raises(ConfigError, match='CLIP ViT'):
        tiny_proxyclip(clip=dict(arch='tiny-rn', pretrained=None))
    from langseg.utils.errors import LangsegError
    with pytest.raises(LangsegError, match='training-free'):
        tiny_proxyclip().loss(torch.zeros(1, 3, 56, 56), [])


def test_maskclip_and_feature_adjustment_variants_run():
    x = torch.randn(1, 3, 56, 84)
    base = tiny_proxyclip(attention='maskclip')
    adjusted = tiny_proxyclip(attention='maskclip', feature_adjustment=True)
    adjusted.load_state_dict(base.state_dict(), strict=False)
    cos = base.window_logits(x)
    adj = adjusted.window_logits(x)
    assert cos.shape == adj.shape == (1, 5, 56, 84)
    # the adjustment removes the mean over queries of the weighted cosines
    torch.testing.assert_close(adj.mean(dim=1), torch.zeros(1, 56, 84), atol=1e-6, rtol=0)
    assert not math.isclose(float((adj - cos).abs().max()), 0.0)


def test_official_vfm_input_reproduces_the_official_rounding():
    """The official code normalises with rounded CLIP statistics (its preprocessor's
    122.771 / 68.501, ..., the config's model.clip.mean / std) and un-normalises for DINO
    with the exact ones (0.48145466 /
    0.26862954, ...); ``official_vfm_input=True`` (a config key, off by default) does the
    same, which shifts DINO's input by ~1e-5."""
    import os.path as osp

    from mmengine.config import Config

    from .conftest import REPO
    exact_mean = torch.tensor([0.48145466, 0.4578275, 0.40821073])[:, None, None]
    exact_std = torch.tensor([0.26862954, 0.26130258, 0.27577711])[:, None, None]
    imagenet_mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    imagenet_std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'proxyclip',
                                   'proxyclip_vit-b16-dino-b8_voc21.py'))
    assert cfg.model.get('official_vfm_input', False) is False            # off by default
    torch.manual_seed(0)
    rgb = torch.randint(0, 256, (1, 3, 56, 56)).float()
    seen = {}
    for official in (False, True):
        cfg.merge_from_dict({'model.official_vfm_input': official})   # as --cfg-options
        model_cfg = cfg.model.to_dict()
        model_cfg.update(clip=dict(model_cfg['clip'], arch='tiny-vit', pretrained=None),
                         vfm=dict(TINY_VFM),
                         class_names=['cat', 'dog'], templates='a photo of a {}.')
        init_default_scope('mmseg')
        model = MODELS.build(model_cfg).eval()
        vfm = model.vfm
        # the CLIP tower's normalised window (the config's rounded statistics)
        x = (rgb - torch.tensor(CLIP_MEAN)[:, None, None]) / \
            torch.tensor(CLIP_STD)[:, None, None]
        hook = vfm.register_forward_pre_hook(
            lambda m, args, key=official: seen.update({key: (args[0] - m.mean) / m.std}))
        with torch.no_grad():
            model.dense_features(rgb)
        hook.remove()
    # what DINO sees, written as the official code computes it:
    # Normalize(ImageNet)(UnNormalize(exact CLIP)(x))
    official_input = ((x[0] * exact_std + exact_mean) - imagenet_mean) / imagenet_std
    exact_input = (rgb[0] / 255 - imagenet_mean) / imagenet_std
    torch.testing.assert_close(seen[True][0], official_input, rtol=0, atol=1e-6)
    torch.testing.assert_close(seen[False][0], exact_input, rtol=0, atol=1e-6)
    shift = (official_input - exact_input).abs()
    assert 3e-6 < shift.max() < 1e-4                        # the rounding, nothing more
    assert (seen[True] - seen[False]).abs().max() > 3e-6


def test_each_tower_normalises_the_pixels_once():
    """The preprocessor normalises nothing (a config that makes it normalise is refused:
    the towers would see the pixels normalised twice); the CLIP tower's input is
    (pixels - clip.mean) / clip.std and the VFM's (pixels / 255 - ImageNet mean) /
    ImageNet std, both from the same pixels; padding is CLIP's mean colour."""
    with pytest.raises(ConfigError, match='normalises each tower'):
        tiny_proxyclip(data_preprocessor=dict(type='SegDataPreProcessor', mean=CLIP_MEAN,
                                              std=CLIP_STD, bgr_to_rgb=True))
    with pytest.raises(ConfigError, match='clip settings'):
        tiny_proxyclip(clip=dict(arch='tiny-vit', pretrained=None, means=CLIP_MEAN))
    model = tiny_proxyclip()
    torch.manual_seed(0)
    rgb = torch.randint(0, 256, (1, 3, 56, 56)).float()
    seen = {}
    model.visual.conv1.register_forward_pre_hook(
        lambda m, args: seen.update(clip=args[0].clone()))
    model.vfm.model.patch_embed.proj.register_forward_pre_hook(
        lambda m, args: seen.update(vfm=args[0].clone()))
    with torch.no_grad():
        model.dense_features(rgb)
    mean, std = torch.tensor(CLIP_MEAN)[:, None, None], torch.tensor(CLIP_STD)[:, None, None]
    torch.testing.assert_close(seen['clip'], (rgb - mean) / std, rtol=0, atol=1e-6)
    imagenet = (rgb / 255 - torch.tensor([0.485, 0.456, 0.406])[:, None, None]) / \
        torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    torch.testing.assert_close(seen['vfm'], imagenet, rtol=0, atol=1e-5)
    torch.testing.assert_close(model.window_pad_value(), torch.tensor(CLIP_MEAN))
