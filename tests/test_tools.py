"""tools/train.py and tools/test.py end to end on the toy data, and their bad inputs."""
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from .conftest import (REPO, TOY_CONFIG, run_tool, tiny_toy_body, tool_env,
                       write_config)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith('error:')]
    assert len(lines) == 1, proc.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# ----------------------------------------------------------------- the happy path


def test_train_writes_checkpoints_and_validates(trained_toy):
    log = trained_toy['train_log']
    assert osp.basename(trained_toy['checkpoint']) == 'iter_20.pth'
    assert osp.isfile(osp.join(trained_toy['work_dir'], 'iter_10.pth'))
    assert re.search(r'Iter\(val\) .*mIoU: [\d.]+', log)


def test_test_prints_metrics_table_overlays_and_predictions(trained_toy, tmp_path):
    show, out = tmp_path / 'show', tmp_path / 'preds'
    proc = run_tool('test.py', trained_toy['config'], trained_toy['checkpoint'],
                    '--work-dir', str(tmp_path / 'w'), '--show-dir', str(show),
                    '--out', str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    assert re.search(r'aAcc: [\d.]+\s+mIoU: [\d.]+\s+mAcc: [\d.]+', text)
    for name in ('background', 'red circle', 'blue triangle'):  # per-class IoU table
        assert re.search(rf'\|\s+{name}\s+\|\s+[\d.]+\s+\|', text), name
    overlays = [f for _, _, fs in os.walk(show) for f in fs if f.endswith('.png')]
    assert len(overlays) == 8
    assert len([f for f in os.listdir(out) if f.endswith('.png')]) == 8
    assert not [p for p in os.listdir(tmp_path) if '.partial-' in p]


def test_test_refuses_a_trainable_model_without_checkpoint(trained_toy, tmp_path):
    proc = run_tool('test.py', trained_toy['config'], '--work-dir', str(tmp_path / 'w'))
    assert_one_line_error(proc, 'is a trained model and no CHECKPOINT was given',
                          '--no-checkpoint')
    assert 'mIoU' not in proc.stdout + proc.stderr
    assert not (tmp_path / 'w').exists()


def test_test_no_checkpoint_flag_evaluates_the_built_weights(trained_toy, tmp_path):
    proc = run_tool('test.py', trained_toy['config'], '--no-checkpoint',
                    '--work-dir', str(tmp_path / 'w'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    assert '--no-checkpoint: evaluating the weights the config builds' in text
    assert 'mIoU' in text
    both = run_tool('test.py', trained_toy['config'], trained_toy['checkpoint'],
                    '--no-checkpoint', '--work-dir', str(tmp_path / 'w2'))
    assert_one_line_error(both, '--no-checkpoint and a CHECKPOINT cannot be used together')


# ------------------------------------------------------------------- bad inputs


def test_config_that_does_not_exist(tmp_path):
    work = tmp_path / 'w'
    for tool in ('train.py', 'test.py'):
        proc = run_tool(tool, str(tmp_path / 'missing.py'), '--work-dir', str(work))
        assert_one_line_error(proc, 'missing.py does not exist')
    assert not work.exists()


def test_config_that_does_not_parse(tmp_path):
    cfg = tmp_path / 'broken.py'
    cfg.write_text("model = dict(type='EncoderDecoder'\n")
    proc = run_tool('train.py', str(cfg), '--work-dir', str(tmp_path / 'w'))
    assert_one_line_error(proc, 'broken.py does not parse')
    assert not (tmp_path / 'w').exists()


def test_unknown_type_names_registry_and_close_names(tmp_path, tiny_toy_config):
    cfg = write_config(str(tmp_path / 'typo.py'), tiny_toy_config,
                       "model = dict(backbone=dict(type='MobileNetV3x'))\n")
    proc = run_tool('train.py', cfg, '--work-dir', str(tmp_path / 'w'))
    line = assert_one_line_error(proc, "unknown type 'MobileNetV3x'", 'mmseg::model',
                                 'MobileNetV3')
    assert 'closest registered names' in line
    assert not (tmp_path / 'w').exists()


def test_data_root_that_does_not_exist(tmp_path):
    cfg = write_config(str(tmp_path / 'ade.py'), TOY_CONFIG, f"""
    train_dataloader = dict(dataset=dict(_delete_=True, type='ADE20KDataset',
        data_root={str(tmp_path / 'no_ade')!r},
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=[]))
    """)
    proc = run_tool('train.py', cfg, '--work-dir', str(tmp_path / 'w'))
    assert_one_line_error(proc, 'no_ade of ADE20KDataset does not exist', 'ADEChallengeData2016/{images,annotations}')
    assert not (tmp_path / 'w').exists()


def test_data_root_without_images(tmp_path):
    root = tmp_path / 'empty_ade'
    (root / 'images' / 'validation').mkdir(parents=True)
    cfg = write_config(str(tmp_path / 'ade.py'), TOY_CONFIG, f"""
    test_dataloader = dict(dataset=dict(_delete_=True, type='ADE20KDataset',
        data_root={str(root)!r},
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=[]))
    """)
    proc = run_tool('test.py', cfg, '--no-checkpoint', '--work-dir', str(tmp_path / 'w'))
    assert_one_line_error(proc, 'holds no .jpg images for ADE20KDataset', str(root))


def test_corrupt_image_during_test_stops_naming_the_file(trained_toy, tmp_path):
    root = tmp_path / 'toy'
    shutil.copytree(trained_toy['data_root'], root)
    bad = root / 'images' / 'validation' / 'toy_00003.jpg'
    bad.write_bytes(b'\x00garbage, not a jpeg')
    cfg = write_config(str(tmp_path / 'cfg.py'), trained_toy['config'], f"""
    test_dataloader = dict(dataset=dict(data_root={str(root)!r}))
    """)
    out = tmp_path / 'preds'
    proc = run_tool('test.py', cfg, trained_toy['checkpoint'], '--work-dir',
                    str(tmp_path / 'w'), '--out', str(out))
    assert_one_line_error(proc, 'cannot decode image', 'toy_00003.jpg')
    # Nothing half-written: no predictions folder, no partial folder.
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if '.partial-' in p]


def test_checkpoint_errors(trained_toy, tmp_path):
    cfg = trained_toy['config']
    proc = run_tool('test.py', cfg, str(tmp_path / 'none.pth'))
    assert_one_line_error(proc, 'none.pth does not exist')
    junk = tmp_path / 'junk.pth'
    junk.write_text('hello')
    proc = run_tool('test.py', cfg, str(junk), '--work-dir', str(tmp_path / 'w'))
    assert_one_line_error(proc, 'junk.pth is not a readable torch checkpoint')
    other = write_config(str(tmp_path / 'other.py'), cfg,
                         "model = dict(decode_head=dict(num_classes=4, channels=32))\n")
    proc = run_tool('test.py', other, trained_toy['checkpoint'], '--work-dir',
                    str(tmp_path / 'w2'))
    assert_one_line_error(proc, 'does not belong to this model', 'mismatched keys',
                          'decode_head.conv_seg.weight')


def test_resume_without_checkpoint(tiny_toy_config, tmp_path):
    work = tmp_path / 'fresh'
    proc = run_tool('train.py', tiny_toy_config, '--work-dir', str(work), '--resume')
    assert_one_line_error(proc, '--resume: no checkpoint in work dir', str(work))
    assert not work.exists()


def test_amp_without_cuda(tiny_toy_config, tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA: --amp is valid here')
    proc = run_tool('train.py', tiny_toy_config, '--work-dir', str(tmp_path / 'w'), '--amp')
    assert_one_line_error(proc, '--amp needs a CUDA device')


# ------------------------------------------------------------------ --amp (mmseg 1.x)


def test_apply_amp_follows_mmseg():
    from mmengine.config import Config

    from langseg.engine.amp import apply_amp
    from langseg.utils.errors import ConfigError

    def cfg(**wrapper):
        return Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1), **wrapper)))

    plain = apply_amp(cfg(type='OptimWrapper', clip_grad=None)).optim_wrapper
    assert plain.type == 'AmpOptimWrapper' and plain.loss_scale == 'dynamic'
    assert plain.clip_grad is None and plain.optimizer.lr == 0.1
    assert apply_amp(cfg()).optim_wrapper.type == 'AmpOptimWrapper'  # type left out
    amp = apply_amp(cfg(type='AmpOptimWrapper', loss_scale=512.0)).optim_wrapper
    assert amp.type == 'AmpOptimWrapper' and amp.loss_scale == 512.0  # kept, warned
    for other in ('OptimWrapperDict', 'mmengine.ApexOptimWrapper', 'MyWrapper'):
        with pytest.raises(ConfigError, match=rf"optim_wrapper.type='{other.split('.')[-1]}'"
                                              r".*expected 'OptimWrapper'"):
            apply_amp(cfg(type=other))
    with pytest.raises(ConfigError, match='needs an optim_wrapper'):
        apply_amp(Config(dict(model=dict())))


def test_amp_with_another_wrapper_is_refused_before_the_device_check(tiny_toy_config,
                                                                     tmp_path):
    proc = run_tool('train.py', tiny_toy_config, '--work-dir', str(tmp_path / 'w'), '--amp',
                    '--cfg-options', 'optim_wrapper.type=ApexOptimWrapper')
    assert_one_line_error(proc, "--amp cannot be applied to optim_wrapper.type="
                                "'ApexOptimWrapper'", "expected 'OptimWrapper'")


# ------------------------------------------------------- load_from: partial as mmseg


def _finetune_config(tmp_path, trained_toy, extra: str = '') -> str:
    """The trained toy run's checkpoint as load_from of a 12-class model, lr 0."""
    return write_config(str(tmp_path / 'finetune.py'), trained_toy['config'], f"""
    load_from = {trained_toy['checkpoint']!r}
    model = dict(decode_head=dict(num_classes=12))
    train_cfg = dict(max_iters=2, val_interval=1000)
    optim_wrapper = dict(optimizer=dict(lr=0.0))
    param_scheduler = []
    default_hooks = dict(checkpoint=dict(interval=2))
    {extra}
    """)


def test_load_from_of_another_model_loads_partially_with_one_warning(trained_toy, tmp_path):
    import torch

    from langseg.engine.checkpoint import load_checkpoint_file
    work = tmp_path / 'w'
    proc = run_tool('train.py', _finetune_config(tmp_path, trained_toy), '--work-dir',
                    str(work))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    warnings = [line for line in text.splitlines() if 'loaded partially' in line]
    assert len(warnings) == 1, text[-3000:]
    assert re.search(r'2 mismatched keys: decode_head\.conv_seg\.bias \(checkpoint \(10,\), '
                     r'model \(12,\)\), decode_head\.conv_seg\.weight', warnings[0])
    assert 'load_from_strict=True' in warnings[0] and 'missing keys' not in warnings[0]
    assert 'do not match exactly' not in text  # mmengine's multi-line report left out
    assert 'Load checkpoint from' in text
    # Every matching weight was loaded (lr 0: the run does not move them).
    old = load_checkpoint_file(trained_toy['checkpoint'])['state_dict']
    new = load_checkpoint_file(str(work / 'iter_2.pth'))['state_dict']
    assert new['decode_head.conv_seg.weight'].shape[0] == 12
    weights = [k for k in old if not k.startswith('decode_head.conv_seg.')
               and not k.endswith(('running_mean', 'running_var', 'num_batches_tracked'))]
    assert len(weights) > 50
    for key in weights:
        assert torch.equal(old[key], new[key]), key


def test_load_from_strict_refuses_another_model(trained_toy, tmp_path):
    proc = run_tool('train.py', _finetune_config(tmp_path, trained_toy,
                                                 'load_from_strict = True'),
                    '--work-dir', str(tmp_path / 'w'))
    assert_one_line_error(proc, 'does not belong to this model', 'mismatched keys',
                          'decode_head.conv_seg.weight')


# --------------------------------------------------------------------------- --show


def test_show_without_a_display_suggests_show_dir(trained_toy, tmp_path):
    env = tool_env()
    env.pop('DISPLAY', None)
    env.pop('WAYLAND_DISPLAY', None)
    proc = run_tool('test.py', trained_toy['config'], trained_toy['checkpoint'],
                    '--work-dir', str(tmp_path / 'w'), '--show', '--wait-time', '0.5',
                    env=env)
    assert_one_line_error(proc, '--show needs a display', '--show-dir DIR')


def test_show_sets_the_visualization_hook_as_mmseg(monkeypatch):
    from mmengine.config import Config

    from langseg.engine.visualization import trigger_visualization_hook
    from langseg.utils.errors import ConfigError
    monkeypatch.setattr(sys, 'platform', 'linux')

    def cfg():
        return Config(dict(default_hooks=dict(visualization=dict(
            type='SegVisualizationHook', interval=50)), visualizer=dict(
            type='SegLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')])))

    monkeypatch.setenv('DISPLAY', ':0')
    shown = trigger_visualization_hook(cfg(), show=True, wait_time=0.5)
    hook = shown.default_hooks.visualization
    assert (hook.draw, hook.show, hook.wait_time, hook.interval) == (True, True, 0.5, 50)
    assert 'save_dir' not in shown.visualizer
    saved = trigger_visualization_hook(cfg(), show_dir='overlays')
    assert saved.default_hooks.visualization.get('show') is None
    assert saved.default_hooks.visualization.interval == 1
    assert saved.visualizer.save_dir == 'overlays'
    with pytest.raises(ConfigError, match='cannot be used together'):
        trigger_visualization_hook(cfg(), show_dir='overlays', show=True)
    monkeypatch.delenv('DISPLAY')
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    with pytest.raises(ConfigError, match=r'--show needs a display.*--show-dir DIR'):
        trigger_visualization_hook(cfg(), show=True)


# --------------------------------------------------------------- slow: resume, DDP


@pytest.mark.slow
def test_killed_run_resumes_to_the_final_iteration(tmp_path, toy_root):
    cfg = write_config(str(tmp_path / 'cfg.py'), TOY_CONFIG,
                       tiny_toy_body(toy_root, max_iters=120, val_interval=1000,
                                     ckpt_interval=20))
    work = tmp_path / 'work'
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), cfg, '--work-dir', str(work)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=tool_env(), cwd=REPO)
    marker = work / 'last_checkpoint'
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if marker.exists() and marker.read_text().strip():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = int(re.search(r'iter_(\d+)\.pth', marker.read_text()).group(1))
    assert killed_at < 120, 'the first run finished before it could be killed'
    resumed = run_tool('train.py', cfg, '--work-dir', str(work), '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    text = resumed.stdout + resumed.stderr
    assert 'resumed from the latest checkpoint' in text.lower() or 'resumed' in text.lower()
    first_iter = int(re.search(r'Iter\(train\) \[\s*(\d+)/120\]', text).group(1))
    assert killed_at < first_iter <= killed_at + 5  # logging interval 5
    assert marker.read_text().strip().endswith('iter_120.pth')
    assert osp.isfile(work / 'iter_120.pth')


@pytest.mark.slow
def test_torchrun_two_cpu_processes_on_gloo(tmp_path, toy_root):
    cfg = write_config(str(tmp_path / 'cfg.py'), TOY_CONFIG, tiny_toy_body(toy_root))
    work = tmp_path / 'work'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
           '--master_port=29533', osp.join(REPO, 'tools', 'train.py'), cfg,
           '--launcher', 'pytorch', '--work-dir', str(work)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=tool_env(),
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    assert 'Distributed training: True' in text
    assert "backend='gloo'" in text or 'backend=gloo' in text or 'gloo' in text
    assert re.search(r'Iter\(train\) \[20/20\]', text)
    assert osp.isfile(work / 'iter_20.pth')
