"""ClearCLIP (Lan et al., ECCV 2024, arXiv:2407.12442) against its official code
(github.com/mc-lan/ClearCLIP): outputs recorded from the official model on seeded tiny
weights by tools/parity/record_clearclip.py (tests/data/parity/clearclip.pt), the
mechanism against a reference written from its formula, the class-name files, the eight
configs."""
import ast
import hashlib
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

RECORDED = osp.join(REPO, 'tests/data/parity/clearclip.pt')
SLIDE_CROP, SLIDE_STRIDE = 56, 28           # as tools/parity/record_clearclip.py
IMAGE_SIZES = [(70, 100), (60, 45)]
SETTINGS = {'default': dict(prob_thd=0.0), 'thd': dict(prob_thd=0.15)}
VARIANTS = {'residual': dict(residual=True), 'vanilla': dict(attention='q-k')}
BENCHES = ('voc21', 'context60', 'coco-object', 'voc20', 'context59', 'coco-stuff',
           'cityscapes', 'ade20k')


def tiny_clearclip(**kwargs):
    """langseg's ClearCLIP on the tiny tower with the recording's seeded weights."""
    init_default_scope('mmseg')
    cfg = dict(type='ClearCLIPSegmentor', class_names=parity.CLASS_NAMES,
               clip=dict(arch='tiny-vit', pretrained=None, quick_gelu=True,
                         mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323]),
               templates='openai_imagenet', slide_crop=SLIDE_CROP, slide_stride=SLIDE_STRIDE,
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
    return tiny_clearclip()


def test_window_logits_equal_the_official_forward_feature(recorded, default_model):
    windows = parity.window_inputs()
    for i, batch in enumerate(windows):
        with torch.no_grad():
            ours = parity.subsample(default_model.window_logits(batch))
        diff = (ours - recorded[f'window_logits_{i}']).abs().max().item()
        print(f'window {tuple(batch.shape[-2:])}: max |logit difference| {diff:.2e}')
        assert ours.shape == recorded[f'window_logits_{i}'].shape and diff < 1e-4
    # the official ignore_residual=False and model_type='vanilla' last blocks
    model = default_model
    saved = {key: getattr(model, key) for option in VARIANTS.values() for key in option}
    try:
        for key, option in VARIANTS.items():   # the official options on the same weights
            for attr, value in dict(saved, **option).items():
                setattr(model, attr, value)
            with torch.no_grad():
                ours = parity.subsample(parity.subsample(model.window_logits(windows[0])))
            diff = (ours - recorded[f'{key}_window_logits_0']).abs().max().item()
            print(f'{key}: max |logit difference| {diff:.2e}')
            assert diff < 1e-4
    finally:
        for attr, value in saved.items():
            setattr(model, attr, value)


@pytest.mark.parametrize('setting', list(SETTINGS))
def test_batched_prediction_equals_the_official_slide_and_postprocess(recorded, setting,
                                                                     default_model):
    """Two images of different sizes (not multiples of the patch: the windows are padded)
    in ONE padded batch: merged logits, probabilities and labels."""
    model = default_model
    images = parity.image_inputs(sizes=IMAGE_SIZES)
    h = max(img.shape[-2] for img in images)
    w = max(img.shape[-1] for img in images)
    batch = torch.zeros(len(images), 3, h, w)
    samples = []
    for i, img in enumerate(images):
        batch[i, :, :img.shape[-2], :img.shape[-1]] = img
        shape = tuple(img.shape[-2:])
        samples.append(SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape)))
    options = model.options.replace(**SETTINGS[setting])
    with torch.no_grad():
        merged = model.image_logits(images)
        out = model.predict(batch, samples, options=options)
    for i, sample in enumerate(out):
        diff = (parity.subsample(merged[i]) - recorded[f'slide_logits_{i}']).abs().max()
        assert diff < 1e-4, diff
        probs = parity.subsample(sample.seg_logits.data)
        pdiff = (probs - recorded[f'{setting}_probs_{i}']).abs().max().item()
        labels = sample.pred_sem_seg.data[0]
        equal = (labels == recorded[f'{setting}_labels_{i}'].long()).float().mean().item()
        print(f'{setting} image {i}: max |logit difference| {diff:.2e}, max |probability '
              f'difference| {pdiff:.2e}, labels equal {100 * equal:.3f}%')
        assert pdiff < 1e-4 and equal >= 0.999


def test_last_block_follows_its_formula(default_model):
    """ClearCLIP's last block written with nn.MultiheadAttention's own projections:
    out_proj(softmax(q q^T s) v), no residual, no MLP."""
    block = default_model.visual.transformer.resblocks[-1]
    torch.manual_seed(3)
    tokens = torch.randn(2, 1 + 3 * 5, 32)
    y = block.ln_1(tokens)
    w_q, _, w_v = block.attn.in_proj_weight.chunk(3)
    b_q, _, b_v = block.attn.in_proj_bias.chunk(3)
    heads = []
    for hd in range(2):
        part = slice(16 * hd, 16 * (hd + 1))
        q = y @ w_q[part].T + b_q[part]
        v = y @ w_v[part].T + b_v[part]
        heads.append(torch.softmax(q @ q.transpose(1, 2) / 4, -1) @ v)
    ref = block.attn.out_proj(torch.cat(heads, -1))[:, 1:]
    with torch.no_grad():
        ours, grid = default_model.last_block(block, tokens, (3, 5), None)
    assert grid == (3, 5)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    with pytest.raises(ConfigError, match='attention must be one of'):
        tiny_clearclip(attention='k-k')


OFFICIAL_VOCABULARIES = {   # sha256 of github.com/mc-lan/ClearCLIP configs/cls_*.txt
    'clearclip_voc21.txt': '265d9ede93be451d724981c5ffde13a8eb3082674e98021aa8d5445f81f4498a',
    'clearclip_coco_object.txt':
        '1f17b53017e442257cad2025ab981ddeb28d048af00dcac8ae810bc25a6a9a77',
}


def test_official_class_name_files_are_verbatim():
    from langseg.utils.class_names import VOCABULARY_DIR
    for name, digest in OFFICIAL_VOCABULARIES.items():
        with open(osp.join(VOCABULARY_DIR, name), 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name
    model = tiny_clearclip(class_names='clearclip_voc21.txt', templates='a {}.')
    assert len(model.class_names) == 21 and model.class_names[0] == 'background'
    assert model.text_encoder().shape[0] == 21       # no synonyms: one query a class


@pytest.mark.parametrize('bench', BENCHES)
def test_config_builds_and_runs_with_tiny_towers(bench):
    cfg = Config.fromfile(osp.join(REPO, f'configs/clearclip/clearclip_vit-b16_{bench}.py'))
    model_cfg = cfg.model.to_dict()
    crop = model_cfg['slide_crop']
    model_cfg.update(clip=dict(arch='tiny-vit', pretrained=None), templates='a {}.',
                     slide_crop=56, slide_stride=28)
    init_default_scope('mmseg')
    model = MODELS.build(model_cfg).eval()
    assert cfg.protocol.dataset == bench and cfg.protocol.needs_checkpoint is False
    assert crop == (224 if bench == 'cityscapes' else 448)
    assert model.windows.pad_multiple == 16 and model.logit_scale_post == 50.0
    with torch.no_grad():
        out = model.predict(torch.rand(1, 3, 60, 75) * 255)[0]
    assert out.pred_sem_seg.data.shape == (1, 60, 75)
    assert cfg.test_dataloader.dataset.pipeline[1]['scale'] == (2048, 448)


def test_docs_recipe_tables_match_the_configs():
    """docs/methods/clearclip.md, "Recipe against the official code": every langseg cell
    is what the resolved config holds (the parser of tests/test_recipe_docs.py)."""
    from .test_recipe_docs import CELL, _plain, _resolve, _tables
    tables = _tables('clearclip')
    assert {osp.basename(c) for c, _ in tables} == \
        {f'clearclip_vit-b16_{b}.py' for b in BENCHES}
    for config, rows in tables:
        cfg = Config.fromfile(osp.join(REPO, config))
        for setting, official, langseg_cell, status in rows:
            assert official and status.startswith(('equal', 'departure: ')), (config, setting)
            cell = CELL.match(langseg_cell)
            assert cell, langseg_cell
            actual = _resolve(cfg, cell.group('key'))
            assert _plain(actual) == _plain(ast.literal_eval(cell.group('value'))), \
                (config, setting, actual)
