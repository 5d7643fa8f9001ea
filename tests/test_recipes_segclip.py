"""SegCLIP's pretraining recipe and zero-shot class names against the official code
(github.com/ArrowLuo/SegCLIP), checked on the real configs and on a runner built the way
``tools/train.py`` builds it (``langseg.engine.train.build_train_runner``): Karpathy
``train`` only (``restval`` an opt-in that warns), ``drop_last``, weight decay exempting
exactly the names containing ``bias``, the official ``warmup_cosine`` learning rate, seed
42 with cuDNN deterministic, training images shrunk to short side 224 (PIL Lanczos) and
crops resized by PIL's bicubic filter, and the official class-name files."""
from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import math
import os.path as osp
import re

import numpy as np
import pytest
import torch
from PIL import Image

import langseg  # noqa: F401
from langseg.utils.class_names import VOCABULARY_DIR

from .conftest import REPO

PRETRAIN = osp.join(REPO, 'configs/segclip/segclip_vit-b16_8xb96-10e_cc3m-coco.py')
RESTVAL = osp.join(REPO, 'configs/segclip/segclip-restval_vit-b16_8xb96-10e_cc3m-coco.py')

# sha256 of the official class-name files (the dataset tuples of the official SegCLIP
# seg_segmentation/datasets/{pascal_voc,pascal_context,coco_object}.py, one class per
# line, background first), computed from the official files when they were copied into
# langseg/utils/vocabularies/.
OFFICIAL_SHA256 = {
    'segclip_voc21.txt': '21696c4f9dc7777cbfe958ea17d0a96476c46c1203f6e7894fa7aa5061ed2fcd',
    'segclip_context60.txt': 'b313c02b175fe309ca4b7b2ef91bc2bb32501b73279d606a46e50deb4df1bb55',
    'segclip_coco_object.txt':
        '80701ae9381b4e718e0285f562e15dfa955a3df98ced2a8a3586fd245fe3368b',
}
ZERO_SHOT = {
    'segclip_vit-b16_voc21.py': ('segclip_voc21.txt', 21),
    'segclip_vit-b16_context60.py': ('segclip_context60.txt', 60),
    'segclip_vit-b16_coco-object.py': ('segclip_coco_object.txt', 81),
    'segclip_vit-b16_8xb96-10e_cc3m-coco.py': ('segclip_voc21.txt', 21),   # per-epoch VOC
}

N_CC, N_COCO_TRAIN, N_COCO_RESTVAL = 1890, 10, 7     # captions of the generated sets
CAPTIONS_PER_IMAGE = 5
BATCH = 96


@contextlib.contextmanager
def captured_log():
    """Lines logged through mmengine's current logger while the block runs."""
    from mmengine.logging import MMLogger
    records: list[str] = []

    class _Handler(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = _Handler(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def make_pairs(root) -> dict:
    """A CC3M-style TSV and a Karpathy-split COCO file of generated images."""
    rng = np.random.default_rng(0)
    cc, coco = root / 'cc3m', root / 'coco'
    (cc / 'img').mkdir(parents=True)
    for sub in ('train2014', 'val2014'):
        (coco / sub).mkdir(parents=True)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (240, 300, 3), np.uint8)).save(
            cc / 'img' / f'{i}.jpg')
    with open(cc / 'train.tsv', 'w', newline='') as f:
        writer = csv.writer(f, delimiter='\t')
        writer.writerow(['image', 'caption'])
        writer.writerows([f'img/{i % 3}.jpg', f'caption {i}'] for i in range(N_CC))
    images = []
    for split, folder, n in (('train', 'train2014', N_COCO_TRAIN // CAPTIONS_PER_IMAGE),
                             ('restval', 'val2014', N_COCO_RESTVAL),
                             ('test', 'val2014', 3)):
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (230, 250, 3), np.uint8)).save(
                coco / folder / f'{split}{i}.jpg')
            count = CAPTIONS_PER_IMAGE if split == 'train' else 1
            images.append(dict(filepath=folder, filename=f'{split}{i}.jpg', split=split,
                               sentences=[dict(raw=f'{split} {i} {k}') for k in range(count)]))
    (coco / 'dataset_coco.json').write_text(json.dumps(dict(images=images)))
    return dict(cc=str(cc), coco=str(coco))


def data_options(paths: dict, voc_root: str, tmp) -> dict:
    """--cfg-options pointing the real config's data at the generated sets (nothing else
    changes but the weights: random, nothing downloaded)."""
    return {
        'model.backbone.pretrained': None,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.datasets.0.data_root': paths['cc'],
        'train_dataloader.dataset.datasets.0.ann_file': osp.join(paths['cc'], 'train.tsv'),
        'train_dataloader.dataset.datasets.1.ann_file':
            osp.join(paths['coco'], 'dataset_coco.json'),
        'train_dataloader.dataset.datasets.1.data_prefix.img_path': paths['coco'],
        'val_dataloader.dataset.data_root': voc_root,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'superpixel_cache': str(tmp / 'sp_cache'),
    }


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    from .test_proxyclip_benchmarks import make_dataset
    root = tmp_path_factory.mktemp('segclip_recipe')
    paths = make_pairs(root)
    voc = str(root / 'voc')
    make_dataset(voc, 'voc21')
    return root, paths, voc


@pytest.fixture(scope='module')
def runner(data):
    """The runner of the real pretraining config, built as tools/train.py builds it."""
    from langseg.engine.train import build_train_runner
    root, paths, voc = data
    return build_train_runner(PRETRAIN, work_dir=str(root / 'work'),
                              cfg_options=data_options(paths, voc, root))


# --------------------------------------------------------------------------- data
def test_pretraining_reads_karpathy_train_only_and_drops_the_last_batch(runner):
    from langseg.methods.segclip import COCOCaptionsDataset
    assert runner.cfg.train_dataloader.dataset.datasets[1].splits == ('train', )
    loader = runner.train_dataloader                     # built by the runner
    coco = loader.dataset.datasets[1]
    assert isinstance(coco, COCOCaptionsDataset)
    paths = [coco.get_data_info(i)['img_path'] for i in range(len(coco))]
    assert len(paths) == N_COCO_TRAIN and all('train2014' in p for p in paths)
    # drop_last as the official DataLoader: floor(1900 / 96) = 19 batches, not 20
    assert runner.cfg.train_dataloader.drop_last is True
    assert loader.drop_last is True and loader.batch_size == BATCH
    assert len(loader.dataset) == N_CC + N_COCO_TRAIN
    assert len(loader) == (N_CC + N_COCO_TRAIN) // BATCH == 19


def test_restval_is_an_opt_in_that_warns(data):
    from mmengine.config import Config
    from langseg.methods.segclip import COCOCaptionsDataset
    from langseg.registry import DATASETS
    _, paths, _ = data
    ann = osp.join(paths['coco'], 'dataset_coco.json')
    with captured_log() as lines:
        default = COCOCaptionsDataset(ann_file=ann, data_prefix=dict(img_path=paths['coco']))
    assert len(default) == N_COCO_TRAIN and not any('restval' in x for x in lines)
    cfg = Config.fromfile(RESTVAL)
    ds_cfg = cfg.train_dataloader.dataset.datasets[1].to_dict()
    assert ds_cfg['splits'] == ('train', 'restval')
    ds_cfg.update(ann_file=ann, data_prefix=dict(img_path=paths['coco']), pipeline=[])
    with captured_log() as lines:
        opted = DATASETS.build(ds_cfg)
    assert len(opted) == N_COCO_TRAIN + N_COCO_RESTVAL
    assert any("'restval'" in x and 'val2014' in x and 'overlaps' in x for x in lines), lines


# --------------------------------------------------------------------------- optimiser
def official_name(name: str, plug_layer: int) -> str:
    """The official SegCLIP name of a langseg parameter (the checkpoint exporter's map)."""
    from langseg.methods.segclip import export_segclip
    name = name[len('segmentor.'):] if name.startswith('segmentor.') else name
    m = re.fullmatch(r'backbone\.group\.cross_attn\.(\d+)\.attn\.[qkv]_proj\.(weight|bias)',
                     name)
    if m:       # q/k/v are one packed in_proj in the official module
        return (f'clip.visual.transformer.semantic_layer2.cross_att.{m.group(1)}.attn.'
                f'in_proj_{m.group(2)}')
    (out, ) = export_segclip({name: torch.zeros(1)}, plug_layer)
    return out


@pytest.fixture(scope='module')
def optim_wrapper(runner):
    # what Runner.train() does before its loop
    if isinstance(runner.optim_wrapper, dict):
        runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    return runner.optim_wrapper


def test_weight_decay_exempts_exactly_the_official_no_decay_names(runner, optim_wrapper):
    model = runner.model
    wd_of = {id(p): g['weight_decay'] for g in optim_wrapper.optimizer.param_groups
             for p in g['params']}
    official_no_decay = ['bias', 'LayerNorm.bias', 'LayerNorm.weight']  # main_task_align.py
    plug = runner.cfg.model.backbone.plug_layer
    checked = 0
    for name, param in model.named_parameters():
        if not param.requires_grad:
            assert id(param) not in wd_of
            continue
        expected = 0.0 if any(k in official_name(name, plug) for k in official_no_decay) \
            else 0.05
        assert wd_of[id(param)] == expected, name
        checked += 1
    assert checked == len(wd_of)
    named = dict(model.named_parameters())
    seg = 'segmentor.'
    for decayed in (seg + 'logit_scale', seg + 'backbone.visual.ln_post.weight',
                    seg + 'backbone.visual.transformer.resblocks.11.ln_1.weight',
                    seg + 'backbone.group.norm_x.weight', seg + 'backbone.group.centers',
                    'reconstruction.mask_token', 'reconstruction.norm.weight',
                    seg + 'text_encoder.text.ln_final.weight'):
        assert wd_of[id(named[decayed])] == 0.05, decayed
    for exempt in (seg + 'backbone.visual.ln_post.bias',
                   seg + 'backbone.visual.transformer.resblocks.11.attn.in_proj_bias'):
        assert wd_of[id(named[exempt])] == 0.0, exempt


def official_lr_factor(step: int, total: int, warmup: float = 0.15) -> float:
    """modules/optimization_adamw.py warmup_cosine(step / total, 0.15, 0., 0.), step
    counted from 1 (the official AdaptAdamW's state['step'])."""
    x = step / total
    if x < warmup:
        return x / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (x - warmup) / (1.0 - warmup)))


@pytest.mark.filterwarnings('ignore:Detected call of `scheduler.step\(\)` before')
def test_learning_rate_is_the_official_warmup_cosine_from_zero(runner, optim_wrapper):
    schedulers = runner.build_param_scheduler(runner.cfg.param_scheduler)   # as train()
    epoch_length = len(runner.train_dataloader)
    total = runner.cfg.max_epochs * epoch_length                       # 10 x 19 = 190
    groups = optim_wrapper.optimizer.param_groups
    peaks = [g['initial_lr'] for g in groups]
    assert sorted(set(peaks)) == [4e-6, 4e-3]
    lrs = {}
    for it in range(total):
        lrs[it] = [g['lr'] for g in groups]
        for s in schedulers:
            s.step()                       # ParamSchedulerHook.after_train_iter
    warm_end = int(0.15 * total)           # x < 0.15 up to official step 28
    for it in (0, 1, warm_end - 1, warm_end, total // 2, total - 1):
        expected = [p * official_lr_factor(it + 1, total) for p in peaks]
        assert lrs[it] == pytest.approx(expected, rel=1e-9, abs=1e-15), it
    assert lrs[0][peaks.index(4e-3)] == pytest.approx(4e-3 / (0.15 * total))  # from 0
    assert lrs[total - 1] == pytest.approx([0.0] * len(peaks), abs=1e-12)


# --------------------------------------------------------------------------- randomness
def test_seed_42_and_cudnn_deterministic_reach_the_runner(runner):
    from langseg.engine import CuDNNDeterministicHook
    assert runner.cfg.randomness.seed == 42 and not runner.cfg.randomness.get(
        'diff_rank_seed', False)                # one seed on every rank, as the official
    assert runner.seed == 42
    hooks = [h for h in runner.hooks if isinstance(h, CuDNNDeterministicHook)]
    assert len(hooks) == 1
    before = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = False, True
        hooks[0].before_run(runner)
        assert torch.backends.cudnn.deterministic is True
        assert torch.backends.cudnn.benchmark is False
        # the official sets only cuDNN's flags: no global deterministic-algorithms mode,
        # which would stop CUDA matmuls without CUBLAS_WORKSPACE_CONFIG
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before


# --------------------------------------------------------------------------- images
def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A generated image with detail at every scale (noise plus gradients)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) % 64 * 4], -1)
    return np.clip(base + rng.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)


def test_training_images_are_shrunk_to_short_side_224_with_lanczos_as_pil():
    from langseg.methods.segclip.image_text_data import ShrinkShortSide
    shrink = ShrinkShortSide(224)
    img = smooth_image(450, 300)                             # portrait: w is the short side
    out = shrink(dict(img=img.copy()))['img']
    # write_coco_images.py: (224, int(224 / (300 / 450))) = (224, 336), Image.ANTIALIAS
    ref = np.asarray(Image.fromarray(img).resize((224, 336), Image.Resampling.LANCZOS))
    assert out.shape == (336, 224, 3) and np.array_equal(out, ref)
    small = smooth_image(200, 500)                           # one side <= 224: kept
    assert np.array_equal(shrink(dict(img=small.copy()))['img'], small)


def test_the_config_pipeline_shrinks_then_crops_bicubic_as_pil(runner):
    """The real config's pipeline (the runner's dataset) up to the crop, against the
    official preparation: PIL Lanczos to short side 224, then PIL's bicubic resize of the
    crop box (torchvision's resized_crop on a PIL image)."""
    from langseg.methods.segclip.image_text_data import (
        FelzenszwalbSuperpixels, ShrinkShortSide, RandomResizedCropWithSuperpixels)
    transforms = runner.train_dataloader.dataset.datasets[0].pipeline.transforms
    names = [type(t).__name__ for t in transforms]
    assert names.index('ShrinkShortSide') < names.index('FelzenszwalbSuperpixels') < \
        names.index('RandomResizedCropWithSuperpixels')
    shrink = next(t for t in transforms if isinstance(t, ShrinkShortSide))
    crop = next(t for t in transforms if isinstance(t, RandomResizedCropWithSuperpixels))
    assert shrink.short_side == 224 and crop.size == 224 and crop.scale == (0.5, 1.0)
    img = smooth_image(600, 800, seed=1)
    shrunk = np.asarray(Image.fromarray(img).resize((298, 224), Image.Resampling.LANCZOS))
    for seed in range(5):
        np.random.seed(seed)
        results = crop(shrink(dict(img=img.copy())))
        y, x, ch, cw = results['crop_box']
        ref = np.asarray(Image.fromarray(shrunk).crop((x, y, x + cw, y + ch)).resize(
            (224, 224), Image.Resampling.BICUBIC))
        assert np.array_equal(results['img'], ref), seed
    # a crop that shrinks (300 -> 224 px) is low-passed as PIL does, not point-sampled
    np.random.seed(0)
    big = RandomResizedCropWithSuperpixels(size=64, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    noise = np.random.default_rng(2).integers(0, 255, (256, 256, 3), np.uint8)
    out = big(dict(img=noise.copy()))['img']
    ref = np.asarray(Image.fromarray(noise).resize((64, 64), Image.Resampling.BICUBIC))
    assert np.array_equal(out, ref)
    assert any(isinstance(t, FelzenszwalbSuperpixels) for t in transforms)


def test_crop_fallback_is_torchvisions():
    from langseg.methods.segclip.image_text_data import RandomResizedCropWithSuperpixels

    class NeverFits:                    # every try draws a box larger than the image
        def uniform(self, a, b):
            return b if b > 0.5 else a  # scale 1.0, log-ratio at its lower end
        def randint(self, a, b):        # noqa: E301
            raise AssertionError('no try may fit')

    crop = RandomResizedCropWithSuperpixels(size=224, scale=(1.0, 1.0))
    # torchvision: in_ratio 4 > 4/3 -> h = 100, w = round(100 * 4/3) = 133, centred
    assert crop.box(100, 400, rng=NeverFits()) == (0, (400 - 133) // 2, 100, 133)
    # in_ratio inside [3/4, 4/3]: the whole image
    assert crop.box(90, 100, rng=NeverFits()) == (0, 0, 90, 100)


# --------------------------------------------------------------------------- class names
def read_lines(path: str) -> list[str]:
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


@pytest.mark.parametrize('name', sorted(OFFICIAL_SHA256))
def test_packaged_class_name_files_are_the_official_files(name):
    path = osp.join(VOCABULARY_DIR, name)
    with open(path, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == OFFICIAL_SHA256[name]
    lines = read_lines(path)
    assert lines[0] == 'background' and not any(';' in x or '#' in x for x in lines)


@pytest.mark.parametrize('config', sorted(ZERO_SHOT))
def test_zero_shot_model_uses_the_official_class_names(config):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from langseg.engine.config import strip_pretrained_weights
    from langseg.registry import MODELS
    vocab, num_classes = ZERO_SHOT[config]
    cfg = Config.fromfile(osp.join(REPO, 'configs/segclip', config))
    init_default_scope('mmseg')
    model = MODELS.build(strip_pretrained_weights(cfg.model.to_dict()))
    if cfg.model.type == 'SegCLIPPretrainer':   # validated by its zero-shot segmentor
        model = model.segmentor
    official = read_lines(osp.join(VOCABULARY_DIR, vocab))
    assert len(official) == num_classes
    assert model.class_names == official                     # labels 0..K-1
    # prompted: every class but background, one name each, CLIP's simple template
    assert model.text_encoder.class_names == official[1:]
    assert model.text_encoder.templates == ['a photo of a {}.']
    if 'voc' in vocab:
        assert {'plant', 'monitor'} <= set(model.text_encoder.class_names)
        assert 'potted plant' not in model.text_encoder.class_names
    if 'context' in vocab:
        assert {'airplane', 'plant', 'monitor'} <= set(model.text_encoder.class_names)
