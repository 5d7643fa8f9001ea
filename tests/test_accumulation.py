"""Gradient accumulation keeps the global batch: 4 accumulated passes of batch 2 give the
same loss and update as one batch of 8 (BN and dropout in eval), and the schedule is
stretched so that steps and learning rates stay as published."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from langseg.engine.accumulation import accumulation_steps, apply_accumulation
from langseg.utils.errors import ConfigError

from .conftest import REPO

TOY = osp.join(REPO, 'configs/toy/convformer_mobilenetv2-tiny_1xb8-1000_toy-96x96.py')


def _model_and_batch():
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    import langseg  # noqa: F401
    cfg = Config.fromfile(TOY)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    model.train()
    for m in model.modules():   # BN statistics and dropout would differ per pass
        if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm,
                          torch.nn.modules.dropout._DropoutNd)):
            m.eval()
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8, generator=gen)
              for _ in range(8)]
    samples = []
    for _ in range(8):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 10, (1, 64, 64), generator=gen))
        s.set_metainfo(dict(img_shape=(64, 64), pad_shape=(64, 64), ori_shape=(64, 64)))
        samples.append(s)
    return model, inputs, samples


def test_four_passes_of_two_equal_one_batch_of_eight():
    from mmengine.optim import build_optim_wrapper
    model, inputs, samples = _model_and_batch()
    other = copy.deepcopy(model)
    sgd = dict(type='SGD', lr=1.0, momentum=0.0)
    one = build_optim_wrapper(model, dict(type='OptimWrapper', optimizer=sgd))
    accumulated = build_optim_wrapper(other, dict(type='OptimWrapper', optimizer=sgd,
                                                  accumulative_counts=4))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    log = model.train_step(dict(inputs=inputs, data_samples=samples), optim_wrapper=one)
    losses = [other.train_step(dict(inputs=inputs[i:i + 2], data_samples=samples[i:i + 2]),
                               optim_wrapper=accumulated)['loss'] for i in range(0, 8, 2)]
    torch.testing.assert_close(sum(losses) / 4, log['loss'], atol=1e-5, rtol=0)
    # SGD with lr 1 and no momentum: each parameter's update is minus its gradient, so
    # equal updates (absolute 1e-5) are equal gradients to 1e-5.
    moved = 0
    for (name, a), b in zip(model.named_parameters(), other.parameters()):
        grad_one, grad_accumulated = before[name] - a.detach(), before[name] - b.detach()
        torch.testing.assert_close(grad_accumulated, grad_one, atol=1e-5, rtol=0, msg=name)
        moved += int(grad_one.abs().max() > 1e-4)
    assert moved > 50   # the comparison is between real updates, not zeros


def test_schedule_is_stretched_by_the_accumulation():
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/denseclip/denseclip_clip-r50_8xb4-80k_ade20k-512x512.py'))
    k = accumulation_steps(gpus=8, accumulate=None, world_size=1)
    assert k == 8
    apply_accumulation(cfg, k)
    assert cfg.optim_wrapper.accumulative_counts == 8
    assert cfg.train_cfg.max_iters == 80000 * 8
    (poly, ) = cfg.param_scheduler   # mmcv 1.x poly with its warm-up (PolyLRWithWarmup)
    assert (poly.begin, poly.end, poly.warmup_iters) == (0, 80000 * 8, 1500 * 8)
    assert accumulation_steps(gpus=8, accumulate=None, world_size=2) == 4
    assert accumulation_steps(gpus=None, accumulate=3, world_size=1) == 3
    with pytest.raises(ConfigError, match='multiple of the number of processes'):
        accumulation_steps(gpus=6, accumulate=None, world_size=4)
    with pytest.raises(ConfigError, match='both given'):
        accumulation_steps(gpus=8, accumulate=2, world_size=1)


def test_gpus_flag_reaches_the_runner_through_tools_train_path(tmp_path, toy_root,
                                                              monkeypatch):
    """--gpus 4 on one process: the runner built by tools/train.py's path accumulates 4
    passes per step, runs 4x the iterations and steps the optimiser as often as the
    schedule says (2 steps for max_iters 2)."""
    from langseg.engine.train import build_train_runner

    from .conftest import TOY_CONFIG, tiny_toy_body, write_config
    config = write_config(str(tmp_path / 'cfg.py'), TOY_CONFIG,
                          tiny_toy_body(toy_root, max_iters=2, val_interval=100,
                                        ckpt_interval=100))
    runner = build_train_runner(config, work_dir=str(tmp_path / 'work'), gpus=4)
    steps = []
    original = torch.optim.AdamW.step
    monkeypatch.setattr(torch.optim.AdamW, 'step',
                        lambda self, *a, **k: (steps.append(1), original(self, *a, **k))[1])
    runner.train()
    assert runner.iter == 8 and runner.optim_wrapper._accumulative_counts == 4
    assert len(steps) == 2
