"""ResCLIP (Yang et al., CVPR 2025, arXiv:2411.15851) equals the official code
(github.com/yvhangyang/ResCLIP, commit 0e085f7) on identical random weights, fp32, CPU.

tests/data/parity/resclip.pt holds the official outputs recorded by
tools/parity/record_resclip.py on the seeded tiny tower of tools/parity/tiny12_clip.py: window
logits of a square, a non-square and a small window (fewer patches than the SFR blur's
kernel), and the whole prediction (merged logits and labels at another original size) of
two images of different sizes with sliding windows and with ``slide_crop=0`` (VOC's whole
image, sizes not multiples of the patch). The mechanism's parts are also checked against
references written here from the official code's formulas (``gaussian_window`` +
``get_attention_addition``, ``check_path``, ``generate_attention_sfr``)."""
import copy
import hashlib
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

import langseg  # noqa: F401  (registers the modules)
from langseg.registry import MODELS
from langseg.utils.errors import ConfigError

from .conftest import REPO, load_script

tiny12 = load_script('tools/parity/tiny12_clip.py')
MEAN, STD, SUB, TINY12 = tiny12.MEAN, tiny12.STD, tiny12.SUB, tiny12.TINY12
load_seeded_towers, make_image = tiny12.load_seeded_towers, tiny12.make_image

RECORD = osp.join(REPO, 'tests', 'data', 'parity', 'resclip.pt')
WINDOWS = {'square': (128, 128), 'wide': (96, 160), 'small': (64, 80)}
SLIDE = dict(crop=112, stride=56, sizes=[(144, 192), (176, 128)], ori=[(180, 240), (220, 160)])
WHOLE = dict(sizes=[(100, 150), (130, 96)], ori=[(125, 187), (162, 120)])


@pytest.fixture(scope='module')
def record():
    return torch.load(RECORD, weights_only=True)


@pytest.fixture(scope='module')
def base_model(record):
    init_default_scope('mmseg')
    s = record['settings']
    cfg = dict(type='ResCLIPSegmentor',
               class_names=[n.replace(', ', '; ') for n in s['names']],
               clip=dict(arch=TINY12, pretrained=None, mean=MEAN, std=STD), templates='{}',
               logit_scale=s['logit_scale'], prob_thd=s['prob_thd'],
               gaussian_std=s['gaussian_std'], temp_thd=s['temp_thd'],
               rcs_weights=s['attn_rcs_weights'], sfr_weights=s['attn_sfr_weights'],
               delete_same_entity=s['delete_same_entity'],
               data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True))
    model = MODELS.build(cfg).eval()
    digest = load_seeded_towers(model)
    assert digest == pytest.approx(record['weights_abs_sum'], rel=1e-9), \
        'the seeded weights differ from the recorded ones (tools/parity/tiny12_clip.py)'
    return model


def variant(model, **changes):
    """A copy of the tiny model with some settings changed."""
    from langseg.models.segmentors.clip_dense import WHOLE_IMAGE
    from langseg.models.segmentors.open_vocab import SlidingWindows
    model = copy.deepcopy(model)
    if 'slide_crop' in changes:
        crop = changes.pop('slide_crop') or WHOLE_IMAGE
        model.windows = SlidingWindows(crop, changes.pop('slide_stride', 112))
    for key, value in changes.items():
        assert hasattr(model, key), key
        setattr(model, key, value)
    return model


def window(model, name, index):
    h, w = WINDOWS[name]
    with torch.no_grad():
        return model.window_logits(make_image(100 + index, h, w)[None])[0]


def test_text_queries_equal_the_official(record, base_model):
    torch.testing.assert_close(base_model.text_encoder().float(), record['text'],
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize('index,name', list(enumerate(WINDOWS)))
def test_window_logits_equal_the_official(record, base_model, index, name):
    ours = window(base_model, name, index)[:, SUB[0], SUB[1]]
    diff = (ours - record['windows'][name]).abs().max().item()
    print(f'{name}: max abs difference {diff:.2e}')
    assert diff < 1e-4


def predict(model, setting, seed0):
    """Merged logits (the windows of both images batched) and labels of one predict call
    on a padded batch of the two images."""
    from mmseg.structures import SegDataSample
    images = [make_image(seed0 + j, h, w) for j, (h, w) in enumerate(setting['sizes'])]
    batch = torch.zeros(2, 3, max(i.shape[1] for i in images), max(i.shape[2] for i in images))
    samples = []
    for j, img in enumerate(images):
        batch[j, :, :img.shape[1], :img.shape[2]] = img
        samples.append(SegDataSample(metainfo=dict(img_shape=tuple(img.shape[1:]),
                                                   ori_shape=setting['ori'][j])))
    merged = []
    image_logits = model.image_logits
    model.image_logits = lambda imgs: merged.extend(image_logits(imgs)) or merged
    with torch.no_grad():
        out = model.predict(batch, samples)
    return merged, [s.pred_sem_seg.data[0] for s in out], [s.seg_logits.data for s in out]


@pytest.mark.parametrize('mode', ['slide', 'whole'])
def test_batched_prediction_equals_the_official(record, base_model, mode):
    """Two images of different sizes in one padded batch (the official code runs one)."""
    if mode == 'slide':
        model = variant(base_model, slide_crop=SLIDE['crop'], slide_stride=SLIDE['stride'])
        setting, seed0 = SLIDE, 200
    else:
        model = variant(base_model, slide_crop=0)
        setting, seed0 = WHOLE, 300
    logits, labels, probs = predict(model, setting, seed0)
    for j in range(2):
        diff = (logits[j][:, SUB[0], SUB[1]] - record[mode]['logits'][j]).abs().max().item()
        ref = record[mode]['labels'][j].long()
        assert labels[j].shape == ref.shape
        equal = (labels[j] == ref).float().mean().item()
        pdiff = (probs[j][:, SUB[0], SUB[1]] - record[mode]['probs'][j]).abs().max().item()
        print(f'{mode} image {j}: max abs difference {diff:.2e} (probabilities '
              f'{pdiff:.2e}), labels equal {equal:.4%}')
        assert diff < 1e-4 and pdiff < 1e-4 and equal >= 0.999


@pytest.mark.parametrize('change', [dict(use_sfr=False), dict(use_rcs=False),
                                    dict(delete_same_entity=False), dict(sfr_pamr=None),
                                    dict(gaussian_std=3.0)])
def test_the_recorded_outputs_depend_on_each_part(record, base_model, change):
    """The parity above is not blind to a part: leaving it out moves the logits by far
    more than the tolerance."""
    ours = window(variant(base_model, **change), 'square', 0)[:, SUB[0], SUB[1]]
    assert (ours - record['windows']['square']).abs().max().item() > 1e-3


# ------------------------------------------------------------ the parts, by formula
def official_gaussian_addition(h, w, std):
    """``gaussian_window`` + ``get_attention_addition`` (clip/model.py:399-424): a one-hot
    map per patch convolved with a (2h-1) x (2w-1) Gaussian window built by linspace."""
    c = 1 / (std * math.sqrt(2))
    ks = []
    for dim in (2 * h - 1, 2 * w - 1):
        start = -(dim - 1) / 2.0
        ks.append(torch.linspace(start * c, (start + dim - 1) * c, dim))
    window = torch.exp(-(torch.stack(torch.meshgrid(*ks, indexing='ij')) ** 2).sum(0))
    m = torch.einsum('ij,kl->ijkl', torch.eye(h), torch.eye(w)).permute(0, 3, 1, 2)
    out = F.conv2d(m.reshape(-1, h, w)[:, None], window[None, None], padding='same')
    out = out.reshape(h * w, h * w)
    out = torch.vstack([torch.zeros(1, h * w), out])
    return torch.hstack([torch.zeros(h * w + 1, 1), out])


@pytest.mark.parametrize('grid,std', [((3, 5), 5.0), ((4, 4), 1.0), ((6, 2), 2.5)])
def test_gaussian_neighbourhood_equals_the_official_construction(grid, std):
    from langseg.models.layers.surgery_attention import gaussian_neighbourhood
    torch.testing.assert_close(gaussian_neighbourhood(*grid, std),
                               official_gaussian_addition(*grid, std), atol=1e-6, rtol=0)


def reference_prior(labels, std, delete_same_entity):
    """``generate_attention_sfr`` written pair by pair (loops, no batching)."""
    h, w = labels.shape
    n = h * w
    coords = [(i // w, i % w) for i in range(n)]
    cheb = [[max(abs(coords[j][0] - coords[i][0]), abs(coords[j][1] - coords[i][1]))
             for j in range(n)] for i in range(n)]
    max_steps = max(max(r) for r in cheb)
    t = torch.linspace(0, 1, max_steps + 1)
    a = torch.zeros(n, n)
    for i in range(n):
        for j in range(n):
            same = float(labels[coords[i]] == labels[coords[j]])
            valid = True
            for step in range(cheb[i][j] + 1):
                r = torch.round(coords[i][0] * (1 - t[step]) + coords[j][0] * t[step])
                c = torch.round(coords[i][1] * (1 - t[step]) + coords[j][1] * t[step])
                valid &= bool(labels[int(r), int(c)] == labels[coords[i]])
            a[i, j] = same if (valid or not delete_same_entity) else \
                same * math.exp(-cheb[i][j] / max_steps)
    size = min(n, int(6 * std + 1))
    size += 1 - size % 2
    x = torch.arange(size) - size // 2
    kernel = torch.exp(-(x ** 2) / (2 * std ** 2))
    kernel = kernel / kernel.sum()
    out = torch.zeros(n + 1, n + 1)
    for i in range(n):
        row = torch.tensor([sum(kernel[q] * a[i, j + q - size // 2]
                                for q in range(size) if 0 <= j + q - size // 2 < n)
                            for j in range(n)]).clamp(min=0)
        out[i + 1, 1:] = row / (row.sum() + 1e-8)
    return out


@pytest.mark.parametrize('delete_same_entity', [True, False])
@pytest.mark.parametrize('std', [5.0, 1.0])
def test_feedback_prior_equals_the_pairwise_reference(delete_same_entity, std):
    from langseg.methods.resclip.feedback import feedback_prior
    labels = torch.tensor([[1, 1, 0, 2], [1, 0, 0, 2], [1, 1, 2, 2]])
    ours = feedback_prior(labels[None], std, delete_same_entity)[0]
    torch.testing.assert_close(ours, reference_prior(labels, std, delete_same_entity),
                               atol=1e-6, rtol=0)


def test_patch_labels_take_the_most_frequent_thresholded_label():
    from langseg.methods.resclip.feedback import patch_labels
    probs = torch.zeros(1, 3, 4, 6)
    probs[0, 2] = 0.9                       # class 2 everywhere ...
    probs[0, 1, :2, :2] = 0.95              # ... class 1 in the first patch
    probs[0, 2, 2:, 2:4] = 0.2              # low confidence: label 0 in patch (1, 1)
    probs[0, 1, 2:, 4] = 0.95               # patch (1, 2): two pixels of 1, two of 2
    labels = patch_labels(probs, 2, temp_thd=0.5)
    # the tie in patch (1, 2) goes to the smaller label (torch.mode); the last pixel
    # column of a 6 / 2 grid is whole, so nothing is dropped
    assert labels.tolist() == [[[1, 2, 2], [2, 0, 1]]]


def test_a_tower_too_shallow_for_the_rcs_blocks_is_refused():
    init_default_scope('mmseg')
    with pytest.raises(ConfigError, match='rcs_layers'):
        MODELS.build(dict(type='ResCLIPSegmentor', class_names=['cat', 'dog'],
                          clip=dict(arch='tiny-vit', pretrained=None)))


# --------------------------------------------------------------------- the configs
#: benchmark -> (vocabulary, prob_thd, slide_crop, temp_thd, rcs, sfr, short side):
#: github.com/yvhangyang/ResCLIP configs/cfg_*.py
OFFICIAL = {
    'voc21': ('sclip_voc21.txt', 0.1, 0, 0.5, (2.0, 0.3), (2.2, 0.7), 336),
    'context60': ('cls_context60.txt', 0.1, 224, 0.3, (2.0, 0.3), (1.8, 0.7), 336),
    'coco-object': ('sclip_coco_object.txt', 0.1, 224, 0.11, (2.0, 0.4), (1.8, 0.7), 336),
    'voc20': ('sclip_voc20.txt', 0.0, 0, 0.1, (2.0, 0.6), (2.1, 0.6), 336),
    'context59': ('cls_context59.txt', 0.0, 224, 0.25, (2.0, 0.4), (1.8, 0.7), 336),
    'coco-stuff': ('cls_coco_stuff.txt', 0.0, 224, 0.11, (2.0, 0.4), (1.8, 0.7), 336),
    'cityscapes': ('cls_city_scapes.txt', 0.0, 224, 0.1, (2.0, 0.2), (2.1, 0.6), 560),
    'ade20k': ('cls_ade20k.txt', 0.0, 224, 0.25, (2.0, 0.3), (2.1, 0.7), 336),
}
#: sha256 of the official files that differ from ProxyCLIP's (configs/cls_*.txt of the
#: official repository, byte for byte; the same bytes as SCLIP's, shipped as sclip_*.txt)
OFFICIAL_SHA256 = {
    'sclip_voc21.txt': '80e643a9a143966800cd4a49324fd0be2f94c0d7bac817ea16a5f66ed706bc38',
    'sclip_voc20.txt': 'c68f65a2b342397cdfe05ff5289517e1e370b1d574a218ff1a17db27f2576db1',
    'sclip_coco_object.txt':
        '3475d03d61f85ce03812ce62d019de8f2ea51053885374629d29a17fbd3f02a6',
}


def test_shipped_class_name_files_are_the_official_bytes():
    for name, digest in OFFICIAL_SHA256.items():
        with open(osp.join(REPO, 'langseg', 'utils', 'vocabularies', name), 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name


@pytest.mark.parametrize('bench', sorted(OFFICIAL))
def test_benchmark_config_builds_and_segments_with_the_official_settings(bench):
    vocab, prob_thd, crop, temp_thd, rcs, sfr, short = OFFICIAL[bench]
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'resclip',
                                   f'resclip_vit-b16_{bench}.py'))
    assert cfg.model.class_names == vocab
    assert cfg.protocol.dataset == bench and cfg.protocol.published_miou > 0
    resize = [t for t in cfg.test_dataloader.dataset.pipeline if t['type'] == 'Resize']
    assert resize[0]['scale'] == (2048, short)
    init_default_scope('mmseg')
    cfg.model.update(clip=dict(arch=TINY12, pretrained=None), templates='{}')
    model = MODELS.build(cfg.model).eval()
    assert model.prob_thd == pytest.approx(prob_thd)
    from langseg.models.segmentors.clip_dense import WHOLE_IMAGE
    assert model.windows.crop == ((WHOLE_IMAGE, ) * 2 if crop == 0 else (crop, crop))
    assert model.temp_thd == pytest.approx(temp_thd) and model.gaussian_std == 5.0
    assert model.rcs_weights == rcs and model.sfr_weights == sfr
    assert model.rcs_layers == (5, 6, 7, 8) and model.delete_same_entity
    assert model.logit_scale_post == 40.0 and model.sfr_pamr == dict(num_iter=10,
                                                                      dilations=(8, 16))
    # the official file's lines, synonyms split at ', '
    with open(osp.join(REPO, 'langseg', 'utils', 'vocabularies', vocab)) as f:
        lines = [line.rstrip('\n') for line in f]
    # (Context60's `wood `: CLIP's tokenizer strips the space, the same tokens)
    assert model.class_names == ['; '.join(w.strip() for w in line.split(', '))
                                 for line in lines]
    from mmseg.structures import SegDataSample
    model.set_class_names(['sky; cloud', 'cat', 'dog'])   # a forward, kept short
    torch.manual_seed(0)
    image = torch.rand(1, 3, 48, 80) * 255
    with torch.no_grad():
        out = model.predict(image, [SegDataSample(metainfo=dict(img_shape=(48, 80),
                                                                ori_shape=(48, 80)))])
    assert out[0].pred_sem_seg.data.shape == (1, 48, 80)
