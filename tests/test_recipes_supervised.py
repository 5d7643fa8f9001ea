"""DenseCLIP, its FPN baselines, Conv-Former and CLIP-SP train as the official DenseCLIP
code does (github.com/raoyongming/DenseCLIP, segmentation/): every check builds the real
config (resolved values, built modules, a runner built the way tools/train.py builds it)
and compares it with the official value written here with its file."""
from __future__ import annotations

import glob
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from .conftest import REPO, TINY_TOY

SUPERVISED_DIRS = ('denseclip', 'baselines', 'convformer', 'clip_sp')
DENSECLIP_R50 = osp.join(REPO, 'configs/denseclip/denseclip_clip-r50_8xb4-80k_ade20k-512x512.py')
CLIPSP_R50 = osp.join(REPO, 'configs/clip_sp/clipsp_clip-r50_4xb4-160k_ade20k-512x512.py')
#: BatchNorm2d layers of open_clip's ModifiedResNet: 3 in the stem + 3 per bottleneck + one
#: per downsample (4 stages): RN50 3 + 3 x 16 + 4, RN101 3 + 3 x 33 + 4.
BN_COUNT = {'RN50': 55, 'RN101': 106}


def _config(path: str) -> Config:
    return Config.fromfile(path)


def _clip_resnet_configs() -> list[str]:
    found = []
    for d in SUPERVISED_DIRS:
        for path in sorted(glob.glob(osp.join(REPO, 'configs', d, '*.py'))):
            if _config(path).model.get('backbone', {}).get('type') == 'CLIPResNet':
                found.append(osp.relpath(path, REPO))
    return found


CLIP_RESNET_CONFIGS = _clip_resnet_configs()


def _bn_types(module: torch.nn.Module) -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            counts[type(m).__name__] = counts.get(type(m).__name__, 0) + 1
    return counts


def _build(node: dict):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import langseg  # noqa: F401
    from langseg.engine.config import strip_pretrained_weights
    init_default_scope('mmseg')
    return MODELS.build(strip_pretrained_weights(dict(node)))


# ---------------------------------------------------------------------------------------
# 1. SyncBN for the CLIP ResNets (official: train_denseclip.py converts the whole backbone,
#    torch.nn.SyncBatchNorm.convert_sync_batchnorm(model.backbone)).

def test_every_clip_resnet_config_of_the_supervised_methods_is_listed():
    # DenseCLIP, FPN baselines, Conv-Former, CLIP-SP; RN50 and RN101; ADE20K and Cityscapes
    names = {osp.basename(c) for c in CLIP_RESNET_CONFIGS}
    for method, folder in (('denseclip', 'denseclip'), ('fpn', 'baselines'),
                           ('convformer', 'convformer')):
        for arch in ('r50', 'r101'):
            assert f'{method}_clip-{arch}_8xb4-80k_ade20k-512x512.py' in names
            assert f'{method}_clip-{arch}_4xb2-80k_cityscapes-512x1024.py' in names
    assert 'clipsp_clip-r50_4xb4-160k_ade20k-512x512.py' in names
    assert 'clipsp_clip-r101_4xb4-160k_ade20k-512x512.py' in names
    assert len(CLIP_RESNET_CONFIGS) >= 30


@pytest.mark.parametrize('config', CLIP_RESNET_CONFIGS)
def test_clip_resnet_backbone_builds_only_syncbn(config):
    cfg = _config(osp.join(REPO, config))
    backbone_cfg = cfg.model.backbone
    assert backbone_cfg.norm_cfg == dict(type='SyncBN', requires_grad=True), config
    backbone = _build(backbone_cfg.to_dict())
    arch = backbone_cfg.get('arch', 'RN50')
    assert _bn_types(backbone) == {'SyncBatchNorm': BN_COUNT[arch]}, config
    assert all(p.requires_grad for m in backbone.modules()
               if isinstance(m, torch.nn.SyncBatchNorm) for p in m.parameters())


def _with_toy_data(config: str, out_path: str, data_root: str) -> str:
    """``config`` as it is (weights references dropped: nothing is downloaded), reading
    the generated toy data instead of the benchmark (the runner checks its data roots)."""
    from langseg.engine.config import strip_pretrained_weights
    cfg = Config.fromfile(config)
    cfg.model = strip_pretrained_weights(cfg.model.to_dict())
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')]

    def loader(split: str, sampler: str) -> dict:
        return dict(batch_size=2, num_workers=0, persistent_workers=False,
                    sampler=dict(type=sampler, shuffle=sampler == 'InfiniteSampler'),
                    dataset=dict(type='ToyShapesDataset', data_root=data_root,
                                 generate=dict(TINY_TOY),
                                 data_prefix=dict(img_path=f'images/{split}',
                                                  seg_map_path=f'annotations/{split}'),
                                 pipeline=pipeline))
    cfg.train_dataloader = loader('training', 'InfiniteSampler')
    cfg.val_dataloader = cfg.test_dataloader = loader('validation', 'DefaultSampler')
    cfg.dump(out_path)
    return out_path


def test_one_process_run_reverts_syncbn_to_batchnorm(tmp_path, toy_root):
    """tools/train.py's path (build_train_runner) in one process: mmengine's
    Runner.wrap_model reverts every SyncBatchNorm, the backbone's as the head's."""
    from langseg.engine.train import build_train_runner
    config = _with_toy_data(DENSECLIP_R50, str(tmp_path / 'cfg.py'), toy_root)
    runner = build_train_runner(config, work_dir=str(tmp_path / 'work'))
    model = runner.model
    assert not runner.distributed
    assert _bn_types(model.backbone) == {'_BatchNormXd': 55}
    assert 'SyncBatchNorm' not in _bn_types(model)


# ---------------------------------------------------------------------------------------
# 5. Learning rate: mmcv 1.x poly with a linear warm-up that multiplies it
#    (official configs/denseclip_fpn_res50_512x512_80k.py: lr_config = dict(policy='poly',
#    power=0.9, min_lr=1e-6, by_epoch=False, warmup='linear', warmup_iters=1500,
#    warmup_ratio=1e-6)).

def mmcv1_lr(base_lr: float, i: int, max_iters: int, power: float = 0.9,
             min_lr: float = 1e-6, warmup_iters: int = 1500,
             warmup_ratio: float = 1e-6) -> float:
    """mmcv 1.x docs (PolyLrUpdaterHook, LrUpdaterHook warmup='linear'):
    regular_lr = (base_lr - min_lr) * (1 - i / max_iters) ** power + min_lr;
    during warm-up lr = regular_lr * (1 - (1 - i / warmup_iters) * (1 - warmup_ratio))."""
    regular = (base_lr - min_lr) * (1 - i / max_iters)**power + min_lr
    if i < warmup_iters:
        return regular * (1 - (1 - i / warmup_iters) * (1 - warmup_ratio))
    return regular


def _step_and_record(schedulers, optimizer, at: set[int], total: int,
                     groups: list[int]) -> dict[int, list[float]]:
    seen = {}
    for i in range(total):
        if i in at:
            seen[i] = [optimizer.param_groups[g]['lr'] for g in groups]
        for s in schedulers:
            s.step()
    return seen


def test_denseclip_80k_lr_is_the_mmcv1_curve_through_the_runner(tmp_path, toy_root):
    """The runner built by tools/train.py's path builds the optimiser and the scheduler
    from the real DenseCLIP RN50 config (as Runner.train does); the learning rates of the
    backbone group (x 0.1) and a decoder group at iterations 0, 750, 1500, 40000, 79999
    are mmcv 1.x's. (The old LinearLR + PolyLR(begin=1500) restart gave 5.50e-5 at 40k
    instead of 5.41e-5.)"""
    from langseg.engine.train import build_train_runner
    config = _with_toy_data(DENSECLIP_R50, str(tmp_path / 'cfg.py'), toy_root)
    runner = build_train_runner(config, work_dir=str(tmp_path / 'work'))
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    schedulers = runner.build_param_scheduler(runner.param_schedulers)
    optimizer = runner.optim_wrapper.optimizer
    bb = {id(p) for p in runner.model.backbone.parameters()}
    head = {id(p) for p in runner.model.decode_head.parameters()}
    g_bb = next(i for i, g in enumerate(optimizer.param_groups) if id(g['params'][0]) in bb)
    g_head = next(i for i, g in enumerate(optimizer.param_groups)
                  if id(g['params'][0]) in head)
    # Fewer groups make the 80k steps fast; the scheduler sets every group the same way.
    optimizer.param_groups[:] = [optimizer.param_groups[g_bb], optimizer.param_groups[g_head]]
    for s in schedulers:
        s.base_values = [g['initial_lr'] for g in optimizer.param_groups]
    at = {0, 750, 1500, 40000, 79999}
    seen = _step_and_record(schedulers, optimizer, at, 80000, [0, 1])
    for i in sorted(at):
        assert seen[i][0] == pytest.approx(mmcv1_lr(1e-5, i, 80000), rel=1e-9), i
        assert seen[i][1] == pytest.approx(mmcv1_lr(1e-4, i, 80000), rel=1e-9), i
    assert seen[1500][1] == pytest.approx(9.83e-5, rel=1e-3)   # not restarted at 1e-4
    assert seen[40000][1] == pytest.approx(5.41e-5, rel=2e-3)


def _scheduler_from(cfg: Config, base_lrs=(1e-4, 1e-5)):
    from mmengine.registry import init_default_scope
    from mmseg.registry import PARAM_SCHEDULERS

    import langseg  # noqa: F401
    init_default_scope('mmseg')
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in base_lrs]
    optimizer = torch.optim.AdamW([dict(params=[p], lr=lr) for p, lr in zip(params, base_lrs)])
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=optimizer))
                  for s in cfg.param_scheduler]
    return optimizer, schedulers


def test_clipsp_160k_lr_is_the_mmcv1_curve():
    cfg = _config(CLIPSP_R50)
    assert cfg.train_cfg.max_iters == 160000
    optimizer, schedulers = _scheduler_from(cfg)
    at = {0, 750, 1500, 80000, 159999}
    seen = _step_and_record(schedulers, optimizer, at, 160000, [0, 1])
    for i in sorted(at):
        assert seen[i][0] == pytest.approx(mmcv1_lr(1e-4, i, 160000), rel=1e-9), i
        assert seen[i][1] == pytest.approx(mmcv1_lr(1e-5, i, 160000), rel=1e-9), i


def test_accumulation_stretches_the_warmup_with_the_schedule():
    """--gpus 8 on one process: 8 passes per optimiser step; the lr at pass 8 i is the
    published schedule's lr at step i (warm-up included)."""
    from langseg.engine.accumulation import apply_accumulation
    cfg = apply_accumulation(_config(DENSECLIP_R50), 8)
    (sched, ) = cfg.param_scheduler
    assert (sched.begin, sched.end, sched.warmup_iters) == (0, 80000 * 8, 1500 * 8)
    optimizer, schedulers = _scheduler_from(cfg)
    at = {8 * i for i in (0, 100, 750, 1499, 1500)}
    seen = _step_and_record(schedulers, optimizer, at, 8 * 1500 + 1, [0])
    for p in sorted(at):
        assert seen[p][0] == pytest.approx(mmcv1_lr(1e-4, p // 8, 80000), rel=1e-9), p


def test_poly_with_warmup_resumes_from_last_step():
    """Closed form: a scheduler rebuilt at last_step continues the same curve."""
    from langseg.engine.schedulers import PolyLRWithWarmup
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    s = PolyLRWithWarmup(opt, power=0.9, eta_min=1e-6, warmup_iters=10, warmup_ratio=1e-6,
                         end=100)
    for _ in range(5):
        s.step()
    state = s.state_dict()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    opt2.param_groups[0]['initial_lr'] = 1e-4
    s2 = PolyLRWithWarmup(opt2, power=0.9, eta_min=1e-6, warmup_iters=10,
                          warmup_ratio=1e-6, end=100, last_step=0)
    s2.load_state_dict(state)
    s.step()
    s2.step()
    assert opt2.param_groups[0]['lr'] == pytest.approx(opt.param_groups[0]['lr'], rel=1e-12)
    assert opt.param_groups[0]['lr'] == pytest.approx(mmcv1_lr(1e-4, 6, 100, warmup_iters=10),
                                                      rel=1e-12)


def test_poly_with_warmup_refuses_an_epoch_schedule():
    from langseg.engine.schedulers import PolyLRWithWarmup
    from langseg.utils.errors import ConfigError
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    with pytest.raises(ConfigError, match='by_epoch=False'):
        PolyLRWithWarmup(opt, end=10, by_epoch=True)


# ---------------------------------------------------------------------------------------
# 5. Neck and head init: the official train_denseclip.py calls only
#    model.backbone.init_weights() and model.text_encoder.init_weights(); mmseg's FPN
#    Xavier init_cfg and conv_seg's N(0, 0.01) are never applied.

DENSECLIP_AND_BASELINES = sorted(
    osp.relpath(p, REPO) for p in
    glob.glob(osp.join(REPO, 'configs/denseclip/denseclip_clip-*.py'))
    + glob.glob(osp.join(REPO, 'configs/baselines/fpn_clip-*.py'))
    + glob.glob(osp.join(REPO, 'configs/clip_sp/fpn_clip-*.py'))
    + glob.glob(osp.join(REPO, 'configs/clip_sp/denseclip_clip-*.py')))


@pytest.mark.parametrize('config', DENSECLIP_AND_BASELINES)
def test_neck_and_head_init_cfg_is_not_applied(config):
    cfg = _config(osp.join(REPO, config))
    assert cfg.model.neck.init_cfg is None and cfg.model.decode_head.init_cfg is None


def test_denseclip_neck_and_head_keep_their_constructor_init():
    cfg = _config(DENSECLIP_R50)
    torch.manual_seed(0)
    model = _build(cfg.model.to_dict())
    model.init_weights()
    conv_seg = model.decode_head.conv_seg.weight        # (150, 256, 1, 1)
    # PyTorch's default: U(-1/sqrt(256), 1/sqrt(256)), std 0.036 (mmseg's init: N(0, 0.01))
    assert conv_seg.abs().max() <= 1 / 16 + 1e-6
    assert conv_seg.std().item() == pytest.approx(1 / 16 / math.sqrt(3), rel=0.05)
    lateral = model.neck.lateral_convs[0].conv.weight  # (256, 256, 1, 1)
    # mmcv ConvModule's Kaiming normal (fan_out, std sqrt(2 / 256)); Xavier uniform would
    # stay within sqrt(6 / 512) = 0.108
    assert lateral.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.05)
    assert lateral.abs().max().item() > math.sqrt(6 / 512)


# ---------------------------------------------------------------------------------------
# 5. ViT-B/16 FPN baseline at 640 (official fpn_clipvit-b_640x640_80k.py:14
#    input_resolution=640); the published 100.8 M params row has its own 512-grid config.

def test_vit_fpn_baseline_trains_with_a_640_positional_grid():
    train = _config(osp.join(REPO, 'configs/baselines/fpn_clip-vit-b16_8xb4-80k_ade20k-640x640.py'))
    table = _config(osp.join(
        REPO, 'configs/baselines/fpn_clip-vit-b16-pos512_8xb4-80k_ade20k-640x640.py'))
    assert train.model.backbone.input_resolution == 640
    assert table.model.backbone.input_resolution == 512
    backbone = _build(train.model.backbone.to_dict())
    pos = [p for n, p in backbone.named_parameters() if n.endswith('positional_embedding')]
    assert pos and pos[0].shape[0] == 1 + 40 * 40


# ---------------------------------------------------------------------------------------
# 5. Data: ADE20K 640 cap (2048, 640) (official ade20k_clip_640.py:12,25); --tta as the
#    official --aug-test (test.py:91-96: img_ratios 0.5-1.75 of the test img_scale, flip).

@pytest.mark.parametrize('config', [
    'configs/denseclip/denseclip_clip-vit-b16_8xb4-80k_ade20k-640x640.py',
    'configs/baselines/fpn_clip-vit-b16_8xb4-80k_ade20k-640x640.py',
    'configs/clip_sp/clipsp_clip-vit-b16_4xb4-160k_ade20k-640x640.py',
    'configs/convformer/convformer_clip-vit-b16_8xb4-80k_ade20k-640x640.py'])
def test_ade20k_640_resize_cap(config):
    cfg = _config(osp.join(REPO, config))
    resize = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomResize']
    assert resize[0].scale == (2048, 640) and resize[0].ratio_range == (0.5, 2.0)
    test = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'Resize']
    assert test[0].scale == (2048, 640)


@pytest.mark.parametrize('config,short', [(DENSECLIP_R50, 512), (osp.join(
    REPO, 'configs/denseclip/denseclip_clip-vit-b16_8xb4-80k_ade20k-640x640.py'), 640)])
def test_tta_resizes_to_ratios_of_the_test_scale_with_flip(config, short):
    """The TTA transforms of the config, built and run on a 300x400 image: ratio r gives
    the image mmcv 0.x's Resize(img_scale=(2048 r, short r), keep_ratio) gives, each once
    unflipped and once flipped."""
    import numpy as np
    from mmcv.transforms import TestTimeAug
    from mmengine.registry import init_default_scope

    import langseg  # noqa: F401
    init_default_scope('mmseg')
    cfg = _config(config)
    resizes, flips = cfg.tta_pipeline[1].transforms[:2]
    tta = TestTimeAug(transforms=[list(resizes), list(flips)])
    img = np.random.RandomState(0).randint(0, 255, (300, 400, 3), dtype=np.uint8)
    out = tta(dict(img=img, img_shape=(300, 400), ori_shape=(300, 400)))
    shapes = [tuple(i.shape[:2]) for i in out['img']]
    expected = []
    for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75):
        scale = min(int(2048 * r) / 400, int(short * r) / 300)
        expected += [(int(300 * scale + 0.5), int(400 * scale + 0.5))] * 2
    assert shapes == expected
    assert out['flip'] == [False, True] * 6


# ---------------------------------------------------------------------------------------
# 6. CLIP-SP Table 1's "*" rows: 4 GPUs x 4, 160k, SyncBN, DenseCLIP's schedule.

#: Li et al., CVM 2024 (doi:10.1007/s41095-024-0430-4), Table 1, rows marked "*".
CLIPSP_STAR_ROWS = {
    'fpn_clip-r50_4xb4-160k_ade20k-512x512.py': 39.52,
    'fpn_clip-r101_4xb4-160k_ade20k-512x512.py': 42.72,
    'fpn_clip-vit-b16_4xb4-160k_ade20k-640x640.py': 49.06,
    'denseclip_clip-r50_4xb4-160k_ade20k-512x512.py': 43.45,
    'denseclip_clip-r101_4xb4-160k_ade20k-512x512.py': 45.09,
    'denseclip_clip-vit-b16_4xb4-160k_ade20k-640x640.py': 50.58,
}


@pytest.mark.parametrize('name', sorted(CLIPSP_STAR_ROWS))
def test_clipsp_star_rows_have_the_clipsp_protocol(name):
    cfg = _config(osp.join(REPO, 'configs/clip_sp', name))
    clipsp = _config(CLIPSP_R50)
    method, arch = name.split('_')[:2]
    same_model = _config(glob.glob(osp.join(
        REPO, 'configs', 'baselines' if method == 'fpn' else 'denseclip',
        f'{method}_{arch}_8xb4-80k_ade20k-*.py'))[0])
    assert cfg.model == same_model.model
    assert cfg.param_scheduler == clipsp.param_scheduler
    assert cfg.train_cfg == clipsp.train_cfg
    assert cfg.train_dataloader.batch_size == 4            # x 4 GPUs = 16
    assert cfg.optim_wrapper.optimizer == clipsp.optim_wrapper.optimizer
    assert cfg.default_hooks.checkpoint.interval == 16000
    assert not cfg.get('custom_hooks')                     # no batch drop in the baselines
    if 'vit' not in arch:
        assert cfg.model.backbone.norm_cfg.type == 'SyncBN'
    assert cfg.protocol.published_miou == CLIPSP_STAR_ROWS[name]
    assert 'Table 1' in cfg.protocol.source


def test_model_zoo_lists_each_published_number_against_its_protocol():
    text = open(osp.join(REPO, 'docs/model_zoo.md')).read()
    rows = [line for line in text.splitlines() if line.startswith('|')]
    for name, miou in CLIPSP_STAR_ROWS.items():
        mine = [r for r in rows if f'{name[:-3]}`' in r]
        assert mine and f'{miou}' in mine[0], name
        # and not against DenseCLIP's 80k protocol
        other = name.replace('4xb4-160k', '8xb4-80k')
        assert not any(f'{other[:-3]}`' in r and f'{miou}' in r for r in rows), other


# ---------------------------------------------------------------------------------------
# 5. Docs: the official trains fp32; no paper row is suggested with --amp.

def test_docs_do_not_suggest_amp_for_a_paper_row():
    for doc in ('docs/methods/denseclip.md', 'docs/methods/clip_sp.md',
                'docs/methods/convformer.md', 'docs/model_zoo.md'):
        for line in open(osp.join(REPO, doc)).read().splitlines():
            if 'train' in line and 'configs/' in line:
                assert '--amp' not in line, (doc, line)
