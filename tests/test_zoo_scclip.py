"""SC-CLIP (Bai et al., arXiv:2411.15869) equals the official code
(github.com/SuleBai/SC-CLIP, commit 0417ba9) on identical random weights, fp32, CPU.

tests/data/parity/scclip.pt holds the official outputs recorded by
tools/parity/record_scclip.py on the seeded tiny tower of tools/parity/tiny12_clip.py: window
logits of two square windows and a non-square one (recorded with the official anomaly
position corrected, the one departure: the official code is right only for square
windows), and the whole prediction (merged logits and labels at another original size,
VOC21's area filter on) of two images of different sizes. The calibration pieces are also
checked against references written here from the official formulas."""
import copy
import hashlib
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import langseg  # noqa: F401  (registers the modules)
from langseg.registry import MODELS
from langseg.utils.errors import ConfigError

from .conftest import REPO, load_script

tiny12 = load_script('tools/parity/tiny12_clip.py')
MEAN, STD, SUB, TINY12 = tiny12.MEAN, tiny12.STD, tiny12.SUB, tiny12.TINY12
load_seeded_towers, make_image = tiny12.load_seeded_towers, tiny12.make_image

RECORD = osp.join(REPO, 'tests', 'data', 'parity', 'scclip.pt')
WINDOWS = {'square': (128, 128), 'square_small': (96, 96), 'tall': (160, 112)}
SLIDE = dict(crop=112, stride=56, sizes=[(144, 192), (176, 128)], ori=[(180, 240), (220, 160)])


@pytest.fixture(scope='module')
def record():
    return torch.load(RECORD, weights_only=True)


@pytest.fixture(scope='module')
def base_model(record):
    init_default_scope('mmseg')
    s = record['settings']
    cfg = dict(type='SCCLIPSegmentor',
               class_names=[n.replace(', ', '; ') for n in s['names']],
               clip=dict(arch=TINY12, pretrained=None, mean=MEAN, std=STD), templates='{}',
               logit_scale=s['logit_scale'], prob_thd=s['prob_thd'], area_thd=s['area_thd'],
               pre_adjust_idx=s['pre_adjust_idx'], post_adjust_idx=s['post_adjust_idx'],
               multi_start_idx=s['multi_start_idx'], multi_end_idx=s['multi_end_idx'],
               res_cls=s['res_cls'], slide_crop=SLIDE['crop'], slide_stride=SLIDE['stride'],
               data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True))
    model = MODELS.build(cfg).eval()
    digest = load_seeded_towers(model)
    assert digest == pytest.approx(record['weights_abs_sum'], rel=1e-9), \
        'the seeded weights differ from the recorded ones (tools/parity/tiny12_clip.py)'
    return model


def variant(model, **changes):
    """A copy of the tiny model with some settings changed."""
    model = copy.deepcopy(model)
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


def test_batched_prediction_equals_the_official(record, base_model):
    """Two images of different sizes in one padded batch (the official code runs one),
    VOC21's area filter on."""
    logits, labels, probs = predict(base_model, SLIDE, 200)
    for j in range(2):
        diff = (logits[j][:, SUB[0], SUB[1]] - record['slide']['logits'][j]).abs().max().item()
        ref = record['slide']['labels'][j].long()
        assert labels[j].shape == ref.shape
        equal = (labels[j] == ref).float().mean().item()
        pdiff = (probs[j][:, SUB[0], SUB[1]] - record['slide']['probs'][j]).abs().max().item()
        print(f'image {j}: max abs difference {diff:.2e} (probabilities {pdiff:.2e}), '
              f'labels equal {equal:.4%}')
        assert diff < 1e-4 and pdiff < 1e-4 and equal >= 0.999


@pytest.mark.parametrize('change', [dict(res_cls=0.3), dict(pre_adjust_idx=7),
                                    dict(post_adjust_idx=4), dict(multi_levels=(3, 9)),
                                    dict(beta=0.3), dict(contamination=0.1)])
def test_the_recorded_outputs_depend_on_each_part(record, base_model, change):
    """The parity above is not blind to a part: changing it moves the logits by far more
    than the tolerance."""
    ours = window(variant(base_model, **change), 'square', 0)[:, SUB[0], SUB[1]]
    assert (ours - record['windows']['square']).abs().max().item() > 1e-3


# ------------------------------------------------------------ the parts, by formula
def official_lof(x, n_neighbors=30, contamination=0.05):
    """``lof_pytorch`` (clip/model.py:208-227), as written there."""
    distances = torch.norm(x[:, None] - x[None, :], dim=2, p=2) ** 2
    knn_distances, knn_indices = torch.topk(distances, k=n_neighbors + 1, largest=False)
    knn_distances, knn_indices = knn_distances[:, 1:], knn_indices[:, 1:]
    k_distances = knn_distances[:, -1].unsqueeze(1).expand_as(knn_distances)
    reach_distances = torch.max(knn_distances, k_distances)
    lrd = n_neighbors / torch.nan_to_num(reach_distances.mean(dim=1), nan=1e-6)
    scores = (lrd[knn_indices] / lrd.unsqueeze(1)).mean(dim=1)
    threshold = torch.quantile(scores.to(torch.float32), 1 - contamination)
    return torch.where(scores > threshold)[0]


def test_anomaly_tokens_are_the_official_outliers():
    from langseg.methods.scclip.calibration import anomaly_tokens
    torch.manual_seed(0)
    x = torch.randn(70, 16)
    x[[3, 40]] *= 6                                    # two clear outliers
    ours = anomaly_tokens(x)
    assert ours.nonzero()[:, 0].tolist() == official_lof(x).tolist()
    assert ours[3] and ours[40] and int(ours.sum()) == 4   # above the 0.95 quantile of 70


def test_anomalies_take_the_mean_of_their_normal_neighbours():
    from langseg.methods.scclip.calibration import resolve_anomalies
    h, w = 3, 4
    tokens = torch.arange(h * w * 2, dtype=torch.float32).reshape(1, h * w, 2)
    anomalies = torch.zeros(1, h * w, dtype=torch.bool)
    anomalies[0, [0, 5]] = True                         # (0, 0) and (1, 1), neighbours
    out = resolve_anomalies(tokens, anomalies, (h, w))
    grid = tokens[0].reshape(h, w, 2)
    # (0, 0): normal neighbours (0, 1), (1, 0); (1, 1) not (an anomaly)
    torch.testing.assert_close(out[0, 0], (grid[0, 1] + grid[1, 0]) / 2)
    # (1, 1): its eight neighbours but (0, 0)
    ring = [grid[r, c] for r in range(3) for c in range(3)
            if (r, c) not in ((1, 1), (0, 0))]
    torch.testing.assert_close(out[0, 5], torch.stack(ring).mean(0))
    keep = ~anomalies[0]
    torch.testing.assert_close(out[0, keep], tokens[0, keep])


def test_the_non_square_anomaly_position_is_row_major():
    """The departure: langseg places anomaly ``i`` of an h x w grid at (i // w, i % w)."""
    from langseg.methods.scclip.calibration import resolve_anomalies
    h, w = 2, 5
    tokens = torch.zeros(1, h * w, 1)
    tokens[0, 7] = 100.0                                # (1, 2) in row-major order
    anomalies = torch.zeros(1, h * w, dtype=torch.bool)
    anomalies[0, 7] = True
    out = resolve_anomalies(tokens, anomalies, (h, w))
    assert out[0, 7, 0] == 0 and out[0, :, 0].abs().sum() == 0


def test_area_filter_zeroes_small_foreground_classes():
    from langseg.models.layers.area_filter import area_filter
    probs = torch.zeros(3, 10, 10)
    probs[1] = 0.6
    probs[2, 0, :5] = 0.9                                # 5 of 100 pixels: below 10 %
    out = area_filter(probs, 0.1)
    assert out[2].abs().sum() == 0 and torch.equal(out[1], probs[1])


@pytest.mark.parametrize('change', [dict(pre_adjust_idx=11), dict(multi_end_idx=12),
                                    dict(area_thd=1.5)])
def test_settings_outside_the_tower_are_refused(change):
    init_default_scope('mmseg')
    with pytest.raises(ConfigError):
        MODELS.build(dict(type='SCCLIPSegmentor', class_names=['cat', 'dog'],
                          clip=dict(arch=TINY12, pretrained=None), **change))


def test_a_window_with_too_few_patches_is_refused():
    from langseg.methods.scclip.calibration import anomaly_tokens
    with pytest.raises(ConfigError, match='too few'):
        anomaly_tokens(torch.randn(30, 8))


# --------------------------------------------------------------------- the configs
#: benchmark -> (vocabulary, prob_thd, logit_scale, area_thd, short side):
#: github.com/SuleBai/SC-CLIP configs/cfg_*.py
OFFICIAL = {
    'voc21': ('sclip_voc21.txt', 0.15, 50.0, 0.1, 336),
    'context60': ('cls_context60.txt', 0.15, 40.0, None, 336),
    'coco-object': ('sclip_coco_object.txt', 0.35, 55.0, None, 336),
    'voc20': ('sclip_voc20.txt', 0.0, 40.0, None, 336),
    'context59': ('cls_context59.txt', 0.0, 40.0, None, 336),
    'coco-stuff': ('cls_coco_stuff.txt', 0.0, 40.0, None, 336),
    'cityscapes': ('cls_city_scapes.txt', 0.0, 40.0, None, 560),
    'ade20k': ('cls_ade20k.txt', 0.0, 40.0, None, 336),
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
    vocab, prob_thd, logit_scale, area_thd, short = OFFICIAL[bench]
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'scclip', f'scclip_vit-b16_{bench}.py'))
    assert cfg.model.class_names == vocab
    assert cfg.protocol.dataset == bench and cfg.protocol.published_miou > 0
    resize = [t for t in cfg.test_dataloader.dataset.pipeline if t['type'] == 'Resize']
    assert resize[0]['scale'] == (2048, short)
    init_default_scope('mmseg')
    cfg.model.update(clip=dict(arch=TINY12, pretrained=None), templates='{}')
    model = MODELS.build(cfg.model).eval()
    assert model.prob_thd == pytest.approx(prob_thd)
    assert model.logit_scale_post == logit_scale and model.area_thd == area_thd
    assert model.windows.crop == (224, 224) and model.windows.stride == (112, 112)
    assert (model.pre_adjust_idx, model.post_adjust_idx, model.multi_levels) == (8, 3, (3, 10))
    assert model.res_cls == 0.3 and model.beta == 0.4
    # the official file's lines, synonyms split at ', '
    # (Context60's `wood `: CLIP's tokenizer strips the space, the same tokens)
    with open(osp.join(REPO, 'langseg', 'utils', 'vocabularies', vocab)) as f:
        lines = [line.rstrip('\n') for line in f]
    assert model.class_names == ['; '.join(w.strip() for w in line.split(', '))
                                 for line in lines]
    from mmseg.structures import SegDataSample
    model.set_class_names(['sky; cloud', 'cat', 'dog'])   # a forward, kept short
    torch.manual_seed(0)
    image = torch.rand(1, 3, 96, 112) * 255
    with torch.no_grad():
        out = model.predict(image, [SegDataSample(metainfo=dict(img_shape=(96, 112),
                                                                ori_shape=(96, 112)))])
    assert out[0].pred_sem_seg.data.shape == (1, 96, 112)
