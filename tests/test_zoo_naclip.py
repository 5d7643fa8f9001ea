"""NACLIP (Hajimiri et al., WACV 2025, arXiv:2404.08181) against its official code
(github.com/sinahmr/NACLIP): outputs recorded from the official model on seeded tiny
weights by tools/parity/record_naclip.py (tests/data/parity/naclip.pt), the mechanism
against references written from its formula, the class-name files, the configs."""
import ast
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import langseg  # noqa: F401
from langseg.utils.errors import ConfigError
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from .conftest import REPO, load_script

parity = load_script('tools/parity/clip_dense_parity.py')

RECORDED = osp.join(REPO, 'tests/data/parity/naclip.pt')
SETTINGS = {'default': dict(), 'nopamr': dict(pamr=None, prob_thd=0.1),
            'whole': dict(slide_crop=0)}
VARIANTS = {'std1': dict(gaussian_std=1.0), 'kk': dict(attention='kk'),
            'vanilla_arch': dict(arch='vanilla'),
            'csa': dict(arch='vanilla', attention='csa'),
            'vanilla_attn': dict(attention='vanilla')}
BENCHES = ('voc21', 'context60', 'coco-object', 'voc20', 'context59', 'coco-stuff',
           'cityscapes', 'ade20k')


def tiny_naclip(**kwargs):
    """langseg's NACLIP on the tiny tower with the recording's seeded weights."""
    init_default_scope('mmseg')
    cfg = dict(type='NACLIPSegmentor', class_names=parity.CLASS_NAMES,
               clip=dict(arch='tiny-vit', pretrained=None, quick_gelu=True,
                         mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323]),
               templates='openai_imagenet', slide_crop=parity.SLIDE_CROP,
               slide_stride=parity.SLIDE_STRIDE,
               data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True))
    cfg.update(kwargs)
    model = MODELS.build(cfg).eval()
    parity.seeded_state_dict(model)
    return model


@pytest.fixture(scope='module')
def recorded():
    return torch.load(RECORDED, weights_only=True)


@pytest.fixture(scope='module')
def default_model():
    """One model for the tests that do not change it (the text is encoded once)."""
    return tiny_naclip()


def _quarter(x):
    return parity.subsample(parity.subsample(x))


def test_window_logits_equal_the_official_forward_feature(recorded, default_model):
    windows = parity.window_inputs()
    for i, batch in enumerate(windows):
        with torch.no_grad():
            ours = _quarter(default_model.window_logits(batch))
        diff = (ours - recorded[f'window_logits_{i}']).abs().max().item()
        print(f'window {tuple(batch.shape[-2:])}: max |logit difference| {diff:.2e}')
        assert ours.shape == recorded[f'window_logits_{i}'].shape and diff < 1e-4
    model = default_model
    saved = {key: getattr(model, key) for option in VARIANTS.values() for key in option}
    try:
        for key, option in VARIANTS.items():   # the official options on the same weights
            for attr, value in dict(saved, **option).items():
                setattr(model, attr, value)
            with torch.no_grad():
                ours = _quarter(model.window_logits(windows[0]))
            diff = (ours - recorded[f'{key}_window_logits_0']).abs().max().item()
            print(f'{key}: max |logit difference| {diff:.2e}')
            assert diff < 1e-4
    finally:
        for attr, value in saved.items():
            setattr(model, attr, value)


@pytest.mark.parametrize('setting', list(SETTINGS))
def test_batched_prediction_equals_the_official_predict(recorded, default_model, setting):
    """Two images of different sizes in ONE padded batch: merged logits, probabilities
    (renormalised after the synonym max) and labels, with PAMR (the default), without, and
    whole images (slide_crop=0)."""
    model = default_model
    if setting == 'whole':
        model = tiny_naclip(**SETTINGS[setting])
        model.text_encoder = default_model.text_encoder
    images = parity.image_inputs()
    h = max(img.shape[-2] for img in images)
    w = max(img.shape[-1] for img in images)
    batch = torch.zeros(len(images), 3, h, w)
    samples = []
    for i, img in enumerate(images):
        batch[i, :, :img.shape[-2], :img.shape[-1]] = img
        shape = tuple(img.shape[-2:])
        samples.append(SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape)))
    options = model.options.replace(**SETTINGS[setting]) if setting == 'nopamr' else None
    with torch.no_grad():
        merged = model.image_logits(images)
        out = model.predict(batch, samples, options=options)
    for i, sample in enumerate(out):
        if setting == 'default':
            diff = (_quarter(merged[i]) - recorded[f'slide_logits_{i}']).abs().max()
            assert diff < 1e-4, diff
        probs = parity.subsample(sample.seg_logits.data)
        pdiff = (probs - recorded[f'{setting}_probs_{i}']).abs().max().item()
        labels = sample.pred_sem_seg.data[0]
        equal = (labels == recorded[f'{setting}_labels_{i}'].long()).float().mean().item()
        print(f'{setting} image {i}: max |probability difference| {pdiff:.2e}, '
              f'labels equal {100 * equal:.3f}%')
        assert pdiff < 1e-4 and equal >= 0.999


def test_neighbourhood_attention_follows_its_formula(default_model):
    """NACLIP's last block written from its formula with nn.MultiheadAttention's own
    projections: out_proj(softmax(k k^T s + G) v), G a Gaussian of the patch distance
    (std 5 patches), zero for the class token; no residual, no MLP."""
    block = default_model.visual.transformer.resblocks[-1]
    torch.manual_seed(3)
    h, w = 3, 5
    tokens = torch.randn(2, 1 + h * w, 32)
    y = block.ln_1(tokens)
    _, w_k, w_v = block.attn.in_proj_weight.chunk(3)
    _, b_k, b_v = block.attn.in_proj_bias.chunk(3)
    gauss = torch.zeros(1 + h * w, 1 + h * w)
    for p in range(h * w):
        for r in range(h * w):
            d2 = (p // w - r // w) ** 2 + (p % w - r % w) ** 2
            gauss[1 + p, 1 + r] = math.exp(-d2 / (2 * 5.0 ** 2))
    heads = []
    for hd in range(2):
        part = slice(16 * hd, 16 * (hd + 1))
        k = y @ w_k[part].T + b_k[part]
        v = y @ w_v[part].T + b_v[part]
        heads.append(torch.softmax(k @ k.transpose(1, 2) / 4 + gauss, -1) @ v)
    ref = block.attn.out_proj(torch.cat(heads, -1))[:, 1:]
    with torch.no_grad():
        ours, grid = default_model.last_block(block, tokens, (h, w), None)
    assert grid == (h, w)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_options_are_checked():
    init_default_scope('mmseg')
    base = dict(type='NACLIPSegmentor', class_names=['cat'], templates='a {}',
                clip=dict(arch='tiny-vit', pretrained=None))
    for bad, match in ((dict(arch='full'), 'arch must be'),
                       (dict(attention='nonly'), 'attention must be'),
                       (dict(attention='csa'), "needs arch='vanilla'"),
                       (dict(gaussian_std=0), 'gaussian_std')):
        with pytest.raises(ConfigError, match=match):
            MODELS.build(dict(base, **bad))


def test_official_class_name_files_are_sclips():
    """The official configs/cls_*.txt of NACLIP are SCLIP's, byte for byte (sha256 of the
    NACLIP files): the configs read langseg's copies of SCLIP's."""
    import hashlib

    from langseg.utils.class_names import VOCABULARY_DIR
    naclip = {'sclip_voc21.txt': '80e643a9a143966800cd4a49324fd0be2f94c0d7bac817ea16a5f66ed706bc38',
              'sclip_voc20.txt': 'c68f65a2b342397cdfe05ff5289517e1e370b1d574a218ff1a17db27f2576db1',
              'sclip_coco_object.txt':
                  '3475d03d61f85ce03812ce62d019de8f2ea51053885374629d29a17fbd3f02a6'}
    for name, digest in naclip.items():
        with open(osp.join(VOCABULARY_DIR, name), 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name


@pytest.mark.parametrize('bench', BENCHES)
def test_config_builds_and_runs_with_tiny_towers(bench):
    cfg = Config.fromfile(osp.join(REPO, f'configs/naclip/naclip_vit-b16_{bench}.py'))
    model_cfg = cfg.model.to_dict()
    whole = model_cfg['slide_crop'] == 0
    model_cfg.update(clip=dict(arch='tiny-vit', pretrained=None), templates='a {}.')
    if not whole:
        model_cfg.update(slide_crop=48, slide_stride=32)
    init_default_scope('mmseg')
    model = MODELS.build(model_cfg).eval()
    assert cfg.protocol.dataset == bench and cfg.protocol.needs_checkpoint is False
    assert whole == (bench in ('voc21', 'voc20'))
    assert model.pamr == dict(num_iter=10, dilations=(8, 16))
    with torch.no_grad():
        out = model.predict(torch.rand(1, 3, 56, 72) * 255)[0]
    assert out.pred_sem_seg.data.shape == (1, 56, 72)
    short = cfg.test_dataloader.dataset.pipeline[1]['scale'][1]
    assert short == (560 if bench == 'cityscapes' else 336)


NOPAMR = {'voc21': 58.9, 'context60': 32.2, 'coco-object': 33.2, 'voc20': 79.7,
          'context59': 35.2, 'coco-stuff': 23.3, 'cityscapes': 35.5, 'ade20k': 17.4}


@pytest.mark.parametrize('bench', BENCHES)
def test_nopamr_configs_are_the_main_ones_without_pamr(bench):
    main = Config.fromfile(osp.join(REPO, f'configs/naclip/naclip_vit-b16_{bench}.py'))
    cfg = Config.fromfile(osp.join(REPO, f'configs/naclip/naclip-nopamr_vit-b16_{bench}.py'))
    assert cfg.model.pamr is None and cfg.protocol.published_miou == NOPAMR[bench]
    rest = {k: v for k, v in cfg.model.items() if k != 'pamr'}
    assert rest == {k: v for k, v in main.model.items() if k != 'pamr'}
    assert cfg.protocol.dataset == bench and cfg.test_dataloader == main.test_dataloader


def test_docs_recipe_tables_match_the_configs():
    """docs/methods/naclip.md, "Recipe against the official code": every langseg cell is
    what the resolved config holds (the parser of tests/test_recipe_docs.py)."""
    from .test_recipe_docs import CELL, _plain, _resolve, _tables
    tables = _tables('naclip')
    assert {osp.basename(c) for c, _ in tables} >= \
        {f'naclip_vit-b16_{b}.py' for b in BENCHES}
    for config, rows in tables:
        cfg = Config.fromfile(osp.join(REPO, config))
        for setting, official, langseg_cell, status in rows:
            assert official and status.startswith(('equal', 'departure: ')), (config, setting)
            cell = CELL.match(langseg_cell)
            assert cell, langseg_cell
            actual = _resolve(cfg, cell.group('key'))
            assert _plain(actual) == _plain(ast.literal_eval(cell.group('value'))), \
                (config, setting, actual)
