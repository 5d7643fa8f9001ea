"""benchmarks/gpu_check.sh: the prepared CUDA check runs end to end in --smoke mode on the
CPU (tiny models), writing its JSON and Markdown table; without CUDA and without --smoke
it refuses with one line. The smoke run has no low precision on the CPU (its agreement
column compares fp32 with fp32), so the precision agreement is measured here for real:
bf16 on a CPU with native bf16, fp16 autocast on CUDA, each against fp32 on the same
tiny ProxyCLIP model and image, with stated bounds that a broken low-precision path
violates (the test shows a stale bf16 copy of the towers failing them)."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from langseg.utils.precision import cpu_supports_bf16

from .conftest import REPO, tool_env


def test_gpu_check_smoke_writes_the_table(tmp_path):
    out = tmp_path / 'check'
    proc = subprocess.run([osp.join(REPO, 'benchmarks/gpu_check.sh'), str(out), '--smoke'],
                          capture_output=True, text=True, timeout=600, env=tool_env(),
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / 'gpu_check.json').read_text())
    jobs = [r['job'] for r in data['rows']]
    assert jobs[:4] == ['DenseCLIP RN50', 'Conv-Former MobileNetV2', 'CLIP-SP RN50',
                        'SegCLIP ViT-B/16']
    for row in data['rows'][:4]:
        assert row['loss_finite'] and row['seconds_per_iter'] > 0
    speed = data['rows'][4]
    # on the CPU the smoke run is fp32 against fp32 and says so: the agreement column is
    # not a measurement there (test_low_precision_agrees_with_fp32 below measures it)
    assert speed['images_per_second'] > 0 and speed['precision'] == 'fp32 (CPU)'
    assert 0.0 <= speed['label_agreement_with_fp32'] <= 1.0
    table = (out / 'gpu_check.md').read_text()
    assert '| SegCLIP ViT-B/16 |' in table and 'images / s' in table


def test_gpu_check_without_cuda_refuses(tmp_path):
    env = dict(tool_env(), CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([sys.executable, 'benchmarks/gpu_check.py', '--out',
                           str(tmp_path / 'x')], capture_output=True, text=True,
                          timeout=300, env=env, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith('error: benchmarks/gpu_check.py '
                                                           'needs a CUDA device')
    assert not os.path.exists(tmp_path / 'x')


# Bounds of the low-precision check, on the cosine logits (|.| <= 1) of the tiny model.
# bf16 keeps 8 significant bits (relative rounding 2^-8 = 0.004), fp16 11 bits; measured
# on the CPU (AMD EPYC, AVX-512 BF16): max |bf16 - fp32| = 0.0049, mean 0.0007, labels
# 99.5% equal. A path that does not run in low precision gives a gap of 0 (refused by
# the lower bound); a wrong one (stale weights, overflow) exceeds the upper bounds.
MAX_ABS_GAP, MEAN_ABS_GAP, MIN_LABEL_AGREEMENT = 0.02, 0.003, 0.98
MIN_GAP = 1e-4   # fp32 twice differs by ~1e-7 at most


def precision_gap(ref: torch.Tensor, low: torch.Tensor, ref_labels: torch.Tensor,
                  low_labels: torch.Tensor) -> dict:
    gap = (ref - low.to(ref)).abs()
    return dict(max=float(gap.max()), mean=float(gap.mean()),
                agreement=float((ref_labels == low_labels).float().mean()))


def within_bounds(gap: dict) -> bool:
    return (MIN_GAP < gap['max'] < MAX_ABS_GAP and gap['mean'] < MEAN_ABS_GAP
            and gap['agreement'] >= MIN_LABEL_AGREEMENT)


def gpu_check_proxyclip(**overrides):
    """The tiny ProxyCLIP model of ``benchmarks/gpu_check.py --smoke`` (its own _tiny)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import langseg  # noqa: F401
    from langseg.engine.config import strip_pretrained_weights
    spec = importlib.util.spec_from_file_location('gpu_check', osp.join(
        REPO, 'benchmarks', 'gpu_check.py'))
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    cfg = Config.fromfile(osp.join(REPO, gpu_check.PROXYCLIP_CONFIG))
    init_default_scope('mmseg')
    model_cfg = gpu_check._tiny(strip_pretrained_weights(cfg.model.to_dict()), 'ProxyCLIP')
    model_cfg.update(slide_crop=56, slide_stride=56, **overrides)
    torch.manual_seed(0)
    return MODELS.build(model_cfg).eval()


def blocks_image(device) -> torch.Tensor:
    """Six coloured 56 x 56 blocks + noise (on pure noise a random model's top-2 class
    margins are below bf16's rounding almost everywhere), as the RGB pixels (the model's
    input) that the config's CLIP normalisation turns into them."""
    gen = torch.Generator().manual_seed(0)
    image = 0.3 * torch.randn(3, 112, 168, generator=gen)
    colours = torch.randn(6, 3, 1, 1, generator=gen) * 1.5
    for i in range(2):
        for j in range(3):
            image[:, i * 56:(i + 1) * 56, j * 56:(j + 1) * 56] += colours[i * 3 + j]
    mean = torch.tensor([122.771, 116.746, 104.094])[:, None, None]   # the config's clip
    std = torch.tensor([68.501, 66.632, 70.323])[:, None, None]       # mean / std
    return (image * std + mean).to(device)


def run(model, image):
    with torch.no_grad():
        logits = model.image_logits([image])[0].float()
        labels = model.predict(image[None])[0].pred_sem_seg.data
    return logits, labels


LOW_PRECISION = [
    pytest.param('cpu', dict(cpu_precision='bf16'), dict(cpu_precision='fp32'),
                 marks=pytest.mark.skipif(
                     not cpu_supports_bf16(),
                     reason='this CPU has no native bf16 (AVX-512 BF16 or AMX): langseg '
                            'runs fp32 there, so there is no bf16 path to measure'),
                 id='cpu-bf16'),
    pytest.param('cuda', dict(precision='fp16'), dict(precision='fp32'),
                 marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                          reason='fp16 autocast needs a CUDA device'),
                 id='cuda-fp16'),
]


@pytest.mark.parametrize('device, low_cfg, ref_cfg', LOW_PRECISION)
def test_low_precision_agrees_with_fp32(device, low_cfg, ref_cfg):
    device = torch.device(device)
    ref = gpu_check_proxyclip(**ref_cfg).to(device)
    low = gpu_check_proxyclip(**low_cfg).to(device)
    low.load_state_dict(ref.state_dict())
    image = blocks_image(device)
    ref_logits, ref_labels = run(ref, image)
    low_logits, low_labels = run(low, image)
    if device.type == 'cpu':
        assert low._bf16_towers is not None             # the bf16 copies really ran
        assert low._bf16_towers[1].conv1.weight.dtype == torch.bfloat16
    gap = precision_gap(ref_logits, low_logits, ref_labels, low_labels)
    print(f'{device.type} {low_cfg}: {gap}')
    assert within_bounds(gap), gap
    assert within_bounds(precision_gap(ref_logits, ref_logits, ref_labels, ref_labels)) \
        is False                                       # fp32 against itself: no gap
    # a broken low-precision path fails the check: the weights change (an optimiser
    # step, a loaded checkpoint); results computed with the old weights (what a stale
    # bf16 copy of the towers would give) are refused, fresh ones pass
    # (through load_state_dict: the towers are frozen, and weights edited in place are not
    # noticed, as the segmentor documents)
    last = f'visual.transformer.resblocks.{len(ref.visual.transformer.resblocks) - 1}.'
    changed = {k: v + 0.1 * torch.randn(v.shape, generator=torch.Generator().manual_seed(
                   v.numel())).to(v) if k.startswith(last) and v.is_floating_point() else v
               for k, v in ref.state_dict().items()}
    for model in (ref, low):
        model.load_state_dict(changed)
    new_logits, new_labels = run(ref, image)
    stale = precision_gap(new_logits, low_logits, new_labels, low_labels)
    assert not within_bounds(stale), stale
    fresh_logits, fresh_labels = run(low, image)
    fresh = precision_gap(new_logits, fresh_logits, new_labels, fresh_labels)
    assert within_bounds(fresh), fresh
