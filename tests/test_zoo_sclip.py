"""SCLIP (Wang et al., ECCV 2024, arXiv:2312.01597) against its official code
(github.com/wangf3014/SCLIP): outputs recorded from the official model on seeded tiny
weights by tools/parity/record_sclip.py (tests/data/parity/sclip.pt), the mechanism
against a reference written from its formula, the class-name files, the eight configs."""
import hashlib
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

import langseg  # noqa: F401
from langseg.utils.errors import ConfigError
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from .conftest import REPO, load_script

parity = load_script('tools/parity/clip_dense_parity.py')

RECORDED = osp.join(REPO, 'tests/data/parity/sclip.pt')
SETTINGS = {'default': dict(logit_scale=40.0, prob_thd=0.0, area_thd=None),
            'voc21': dict(logit_scale=65.0, prob_thd=0.1, area_thd=0.1)}
BENCHES = ('voc21', 'context60', 'coco-object', 'voc20', 'context59', 'coco-stuff',
           'cityscapes', 'ade20k')


def tiny_sclip(**kwargs):
    """langseg's SCLIP on the tiny tower with the recording's seeded weights."""
    init_default_scope('mmseg')
    cfg = dict(type='SCLIPSegmentor', class_names=parity.CLASS_NAMES,
               clip=dict(arch='tiny-vit', pretrained=None, quick_gelu=True,
                         mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323]),
               templates='openai_imagenet', slide_crop=parity.SLIDE_CROP,
               slide_stride=parity.SLIDE_STRIDE, cpu_precision='fp32',
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
    """One model for the tests that do not change it (the 80-template text is encoded
    once)."""
    return tiny_sclip()


def test_window_logits_equal_the_official_forward_feature(recorded, default_model):
    model = default_model
    for i, windows in enumerate(parity.window_inputs()):
        with torch.no_grad():
            ours = parity.subsample(model.window_logits(windows))
        ref = recorded[f'window_logits_{i}']
        diff = (ours - ref).abs().max().item()
        print(f'window {tuple(windows.shape[-2:])}: max |logit difference| {diff:.2e}')
        assert ours.shape == ref.shape and diff < 1e-4


@pytest.mark.parametrize('setting', list(SETTINGS))
def test_batched_prediction_equals_the_official_slide_and_predict(recorded, default_model,
                                                                 setting):
    """Two images of different sizes in ONE padded batch (the official code runs one image
    at a time): merged logits, probabilities and labels."""
    model = default_model if setting == 'default' else tiny_sclip(**SETTINGS[setting])
    images = parity.image_inputs()
    h = max(img.shape[-2] for img in images)
    w = max(img.shape[-1] for img in images)
    batch = torch.zeros(len(images), 3, h, w)
    samples = []
    for i, img in enumerate(images):
        batch[i, :, :img.shape[-2], :img.shape[-1]] = img
        shape = tuple(img.shape[-2:])
        samples.append(SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape)))
    with torch.no_grad():
        merged = model.image_logits(images)
        out = model.predict(batch, samples)
    for i, sample in enumerate(out):
        if setting == 'default':
            diff = (parity.subsample(merged[i]) - recorded[f'slide_logits_{i}']).abs().max()
            assert diff < 1e-4, diff
        probs = parity.subsample(sample.seg_logits.data)
        pdiff = (probs - recorded[f'{setting}_probs_{i}']).abs().max().item()
        labels = sample.pred_sem_seg.data[0]
        equal = (labels == recorded[f'{setting}_labels_{i}'].long()).float().mean().item()
        print(f'{setting} image {i}: max |probability difference| {pdiff:.2e}, '
              f'labels equal {100 * equal:.3f}%')
        assert pdiff < 1e-4 and equal >= 0.999


def test_correlative_self_attention_follows_its_formula(default_model):
    """The last block against SCLIP's formula written with nn.MultiheadAttention's own
    projections: x + out_proj((softmax(q q^T s) + softmax(k k^T s)) v), + mlp(ln_2(.))."""
    model = default_model
    block = model.visual.transformer.resblocks[-1]
    torch.manual_seed(3)
    tokens = torch.randn(2, 1 + 3 * 5, 32)
    y = block.ln_1(tokens)
    w_q, w_k, w_v = block.attn.in_proj_weight.chunk(3)
    b_q, b_k, b_v = block.attn.in_proj_bias.chunk(3)
    heads = []
    for hd in range(2):
        part = slice(16 * hd, 16 * (hd + 1))
        q = y @ w_q[part].T + b_q[part]
        k = y @ w_k[part].T + b_k[part]
        v = y @ w_v[part].T + b_v[part]
        a = torch.softmax(q @ q.transpose(1, 2) / 4, -1) + \
            torch.softmax(k @ k.transpose(1, 2) / 4, -1)
        heads.append(a @ v)
    x = tokens + block.attn.out_proj(torch.cat(heads, -1))
    x = x + block.mlp(block.ln_2(x))
    with torch.no_grad():
        ours, grid = model.last_block(block, tokens, (3, 5), None)
    assert grid == (3, 5)
    torch.testing.assert_close(ours, x[:, 1:], atol=1e-5, rtol=1e-5)


def test_area_threshold_zeroes_small_foreground_classes():
    """SCLIP's VOC21 filter: a foreground class whose argmax area is at most area_thd of
    the foreground-argmax pixels loses its probability; the background never does."""
    from langseg.models.layers.area_filter import area_filter
    probs = torch.zeros(3, 10, 10)
    probs[0] = 0.5                       # background everywhere ...
    probs[1, :, :9] = 0.9                # ... class 1 wins 90 pixels
    probs[2, :, 9] = 0.9                 # class 2 wins 10 (10 % of 100 foreground)
    out = area_filter(probs, 0.1)
    assert torch.equal(out[1], probs[1]) and out[2].abs().sum() == 0
    assert torch.equal(out[0], probs[0])
    assert torch.equal(area_filter(probs, 0.09), probs)   # 10 % > 9 %: kept
    with pytest.raises(ConfigError, match='area_thd'):
        tiny_sclip(area_thd=1.5)


OFFICIAL_VOCABULARIES = {   # sha256 of github.com/wangf3014/SCLIP configs/cls_*.txt
    'sclip_voc21.txt': '80e643a9a143966800cd4a49324fd0be2f94c0d7bac817ea16a5f66ed706bc38',
    'sclip_voc20.txt': 'c68f65a2b342397cdfe05ff5289517e1e370b1d574a218ff1a17db27f2576db1',
    'sclip_coco_object.txt':
        '3475d03d61f85ce03812ce62d019de8f2ea51053885374629d29a17fbd3f02a6',
}


def test_official_class_name_files_are_verbatim_and_read_with_commas():
    from langseg.utils.class_names import VOCABULARY_DIR
    for name, digest in OFFICIAL_VOCABULARIES.items():
        with open(osp.join(VOCABULARY_DIR, name), 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name
    model = tiny_sclip(class_names='sclip_voc21.txt', templates='a {}.')
    assert len(model.class_names) == 21
    assert model.class_names[15] == ('person; person in shirt; person in jeans; person in '
                                     'dress; person in sweater; person in skirt; person in '
                                     'jacket')
    assert model.display_names[20] == 'television monitor'
    # the official get_cls_idx: one query per ', '-separated name, in file order
    with open(osp.join(VOCABULARY_DIR, 'sclip_voc21.txt')) as f:
        official = [n.replace('\n', '') for line in f.readlines() for n in line.split(', ')]
    owner = model.query_to_class()
    assert len(owner) == len(official) == model.text_encoder().shape[0]


@pytest.mark.parametrize('bench', BENCHES)
def test_config_builds_and_runs_with_tiny_towers(bench):
    cfg = Config.fromfile(osp.join(REPO, f'configs/sclip/sclip_vit-b16_{bench}.py'))
    model_cfg = cfg.model.to_dict()
    model_cfg.update(clip=dict(arch='tiny-vit', pretrained=None), templates='a {}.',
                     slide_crop=48, slide_stride=32)
    init_default_scope('mmseg')
    model = MODELS.build(model_cfg).eval()
    assert cfg.protocol.dataset == bench and cfg.protocol.needs_checkpoint is False
    assert model.windows.crop == (48, 48) and model.windows.pad_multiple == 0
    with torch.no_grad():
        out = model.predict(torch.rand(1, 3, 56, 72) * 255)[0]
    assert out.pred_sem_seg.data.shape == (1, 56, 72)
    assert out.seg_logits.data.shape[0] == model.num_classes
    short = cfg.test_dataloader.dataset.pipeline[1]['scale'][1]
    assert short == {'coco-stuff': 448, 'cityscapes': 560}.get(bench, 336)


def test_towers_without_a_usable_last_attention_are_refused():
    init_default_scope('mmseg')
    with pytest.raises(ConfigError, match='SCLIP needs a CLIP ViT'):
        MODELS.build(dict(type='SCLIPSegmentor', class_names=['cat'],
                          clip=dict(arch='tiny-rn', pretrained=None), templates='a {}'))
    arch = dict(embed_dim=32, vision_cfg=dict(image_size=64, layers=2, width=32,
                                              patch_size=16, head_width=16,
                                              attentional_pool=True),
                text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2,
                              layers=1))
    with pytest.raises(ConfigError, match='attentional pooling.*SCLIP'):
        MODELS.build(dict(type='SCLIPSegmentor', class_names=['cat'],
                          clip=dict(arch=arch, pretrained=None), templates='a {}'))


def test_bf16_cpu_path_agrees_with_fp32(default_model):
    """cpu_precision='bf16' runs bf16 copies of the tower (the head in fp32): the window
    logits stay close to fp32's."""
    model = default_model
    windows = parity.window_inputs()[0]
    with torch.no_grad():
        ref = model.window_logits(windows)
        try:
            model.cpu_precision = 'bf16'
            low = model.window_logits(windows)
        finally:
            model.cpu_precision = 'fp32'
    assert model._bf16_towers is not None
    assert F.cosine_similarity(ref.flatten(), low.flatten(), dim=0) > 0.99


def test_docs_recipe_tables_match_the_configs():
    """docs/methods/sclip.md, "Recipe against the official code": every langseg cell is
    what the resolved config holds (the parser of tests/test_recipe_docs.py)."""
    import ast

    from .test_recipe_docs import CELL, _plain, _resolve, _tables
    tables = _tables('sclip')
    assert {osp.basename(c) for c, _ in tables} == {f'sclip_vit-b16_{b}.py' for b in BENCHES}
    for config, rows in tables:
        cfg = Config.fromfile(osp.join(REPO, config))
        for setting, official, langseg, status in rows:
            assert official and status.startswith('equal'), (config, setting)
            cell = CELL.match(langseg)
            assert cell, langseg
            actual = _resolve(cfg, cell.group('key'))
            assert _plain(actual) == _plain(ast.literal_eval(cell.group('value'))), \
                (config, setting, actual)
