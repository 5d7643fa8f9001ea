"""A 4000 x 3000 image through the inference API adds under 2 GB to the peak memory of a
process that has the model loaded (CPU), windows at full resolution (no short-side resize: the windows that run are counted)
and the post-processing in bands (no timing here: benchmarks/proxyclip_speed.py --size);
and bf16 on the CPU agrees with fp32 on a seeded random-weight image."""
import json
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch

from langseg.utils.precision import cpu_supports_bf16

from .conftest import REPO, tool_env, write_config

TINY = """
model = dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None, model_name='vit_small_patch8_224.dino',
             pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    templates='a photo of a {}.', slide_crop=336, slide_stride=336, tile_rows=256)
"""

SCRIPT = """
import json, resource, sys
import numpy as np
from langseg.apis import OpenVocabularySegmenter
seg = OpenVocabularySegmenter(sys.argv[1], device='cpu', short_side=0)
rng = np.random.default_rng(0)
# a small image first: libraries, model and thread pools loaded and warm, so that the
# difference below is the memory the large image itself takes
seg(rng.integers(0, 255, (336, 336, 3), dtype=np.uint8), 'sky; cloud, tree, road, car')
warm_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
windows = []   # the batch shape of every forward pass of the CLIP tower
seg.model.visual.conv1.register_forward_hook(
    lambda _m, inputs, _out: windows.append(list(inputs[0].shape)))
image = rng.integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
result = seg(image, 'sky; cloud, tree, road, car', keep_probs=False)
print(json.dumps(dict(shape=list(result.labels.shape), probs=result.probs is None,
                      classes=int(result.labels.max()) + 1, windows=windows,
                      warm_mb=warm_mb,
                      peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


def test_4000x3000_image_adds_under_2_gb(tmp_path):
    config = write_config(str(tmp_path / 'tiny.py'), osp.join(
        REPO, 'configs/proxyclip/proxyclip_vit-b16-dino-b8_voc21.py'), TINY)
    script = tmp_path / 'run.py'
    script.write_text(textwrap.dedent(SCRIPT))
    proc = subprocess.run([sys.executable, str(script), config], capture_output=True,
                          text=True, timeout=900, env=tool_env(), cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    image_mb = result['peak_mb'] - result['warm_mb']
    report = (f"4000x3000, full-resolution windows: peak RSS {result['peak_mb']:.0f} MB, "
              f"{result['warm_mb']:.0f} MB of it loaded before the image (torch, mmseg, "
              f"open_clip, the model), {image_mb:.0f} MB for the image")
    print(report)
    assert result['shape'] == [3000, 4000] and result['probs']
    # the bound is on what the image adds: the libraries' resident size depends on the
    # torch build (a CUDA wheel maps about 0.7 GB at import) and is not the pipeline's;
    # the float32 image alone is 144 MB, the scores of 4 classes 192 MB
    assert image_mb < 2048, report
    # full resolution (no short-side resize): mmseg's window count for crop = stride =
    # 336, (3000 - 1) // 336 + 1 = 9 rows by (4000 - 1) // 336 + 1 = 12 columns, each
    # window 336 x 336, in CPU batches of 3 ('auto')
    windows = result['windows']
    assert sum(w[0] for w in windows) == 9 * 12
    assert all(w[1:] == [3, 336, 336] and w[0] <= 3 for w in windows)


@pytest.mark.skipif(not cpu_supports_bf16(),
                    reason='this CPU has no native bf16 (AVX-512 BF16 or AMX): bf16 would '
                           'be emulated, the check is for CPUs that run it')
def test_bf16_on_the_cpu_agrees_with_fp32():
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import langseg  # noqa: F401
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='ProxyCLIPSegmentor', class_names=['sky; cloud', 'tree', 'road', 'car'],
        clip=dict(arch='ViT-B-16', pretrained=None, mean=[122.771, 116.746, 104.094],
                  std=[68.501, 66.632, 70.323]), templates='a photo of a {}.',
        vfm=dict(type='TimmVFM', name='dino-s16', pretrained=None),
        slide_crop=224, slide_stride=224,
        data_preprocessor=dict(type='SegDataPreProcessor'))).eval()
    # a seeded image with structure (8 coloured blocks + noise): on pure noise a random
    # model's top-2 class margins are below bf16's rounding almost everywhere
    gen = torch.Generator().manual_seed(0)
    image = 0.3 * torch.randn(1, 3, 224, 448, generator=gen)
    colours = torch.randn(8, 3, 1, 1, generator=gen) * 1.5
    for i in range(2):
        for j in range(4):
            image[0, :, i * 112:(i + 1) * 112, j * 112:(j + 1) * 112] += colours[i * 4 + j]
    # as RGB pixels (the model's input), which CLIP's normalisation turns into the above
    image = image * model.clip_std + model.clip_mean
    with torch.no_grad():
        fp32 = model.predict(image)[0].pred_sem_seg.data
        model.cpu_precision = 'bf16'
        bf16 = model.predict(image)[0].pred_sem_seg.data
        assert model._bf16_towers is not None        # the bf16 path really ran
    agreement = float((fp32 == bf16).float().mean())
    print(f'bf16 label agreement with fp32: {100 * agreement:.2f}%')
    assert agreement >= 0.99
