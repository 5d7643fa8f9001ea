"""mmseg's own tools and Python APIs run langseg models and checkpoints with nothing added
by the user: only the configs' ``custom_imports = dict(imports=['langseg'])``.

Every check runs in a fresh interpreter (no shim, no ``install_...`` call): mmseg's
``tools/test.py`` / ``tools/train.py`` as the mmsegmentation wheel ships them
(``mmseg/.mim/tools/``), ``mmseg.apis.init_model`` / ``inference_model`` and
``MMSegInferencer``, on checkpoints written by a real (tiny) training run.
"""
from __future__ import annotations

import json
import os.path as osp
import re
import shutil
import subprocess

import pytest

from .conftest import REPO, run_python, run_tool, tiny_toy_body, write_config

CONVFORMER_TOY = osp.join(REPO, 'configs/toy/convformer_mobilenetv2-tiny_1xb8-1000_toy-96x96.py')
PROXYCLIP_VOC = osp.join(REPO, 'configs/proxyclip/proxyclip_vit-b16-dino-b8_voc21.py')
SEGCLIP_VOC = osp.join(REPO, 'configs/segclip/segclip_vit-b16_voc21.py')
SEGCLIP_TOY = osp.join(REPO, 'configs/toy/segclip_tiny-vit_1xb32-400_toy-image-text.py')


def mmseg_tool(name: str) -> str:
    import mmseg
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', name)
    assert osp.isfile(path), f'the mmsegmentation wheel ships {path}'
    return path


def run(args: list[str], cwd: str | None = None, timeout: int = 600
        ) -> subprocess.CompletedProcess:
    return run_python(args, cwd=cwd, timeout=timeout)


def miou_of(proc: subprocess.CompletedProcess) -> float:
    found = re.findall(r'mIoU: ([\d.]+)', proc.stdout + proc.stderr)
    assert found, (proc.stdout + proc.stderr)[-3000:]
    return float(found[-1])


# --------------------------------------------------------------- mmseg's tools


@pytest.mark.slow
def test_mmseg_test_tool_on_a_langseg_checkpoint(trained_toy, tmp_path):
    ours = run_tool('test.py', trained_toy['config'], trained_toy['checkpoint'],
                    '--work-dir', str(tmp_path / 'ours'))
    assert ours.returncode == 0, ours.stderr[-3000:]
    theirs = run([mmseg_tool('test.py'), trained_toy['config'], trained_toy['checkpoint'],
                  '--work-dir', str(tmp_path / 'mmseg')])
    assert theirs.returncode == 0, theirs.stderr[-3000:]
    print(f'mIoU: langseg tools/test.py {miou_of(ours)}, mmseg tools/test.py '
          f'{miou_of(theirs)}')
    assert miou_of(theirs) == miou_of(ours)
    # --tta: the config has a tta_pipeline (flip), mmseg's SegTTAModel merges the views
    tta = run([mmseg_tool('test.py'), trained_toy['config'], trained_toy['checkpoint'],
               '--tta', '--work-dir', str(tmp_path / 'tta')])
    assert tta.returncode == 0, tta.stderr[-3000:]
    assert 0 <= miou_of(tta) <= 100


@pytest.mark.slow
def test_mmseg_train_tool_resumes_and_loads_from(trained_toy, tmp_path):
    work = str(tmp_path / 'work')
    shutil.copytree(trained_toy['work_dir'], work)
    resumed = run([mmseg_tool('train.py'), trained_toy['config'], '--work-dir', work,
                   '--resume', '--cfg-options', 'train_cfg.max_iters=22'])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    text = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 0, iter: 20' in text, text[-3000:]
    assert osp.isfile(osp.join(work, 'iter_22.pth'))    # saved at the last iteration
    assert 'Iter(train) [ 5/22]' not in text             # started at 21, not at 1
    loaded = run([mmseg_tool('train.py'), trained_toy['config'], '--work-dir',
                  str(tmp_path / 'load'), '--cfg-options',
                  f'load_from={trained_toy["checkpoint"]}', 'train_cfg.max_iters=2',
                  'train_cfg.val_interval=2'])
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert f'Load checkpoint from {trained_toy["checkpoint"]}' in \
        loaded.stdout + loaded.stderr


EVIL = r'''
import os, sys, torch


class Evil:
    def __reduce__(self):
        return (os.system, ('touch ' + sys.argv[2],))


torch.save({'state_dict': {}, 'meta': {}, 'x': Evil()}, sys.argv[1])
'''

INIT_MODEL = r'''
import sys
from mmseg.apis import init_model
init_model(sys.argv[1], sys.argv[2], device='cpu')
'''


def test_crafted_pickle_is_refused_in_one_line(trained_toy, tmp_path):
    evil, marker = str(tmp_path / 'evil.pth'), str(tmp_path / 'pwned')
    assert run(['-c', EVIL, evil, marker]).returncode == 0
    for args in (['-c', INIT_MODEL, trained_toy['config'], evil],
                 [mmseg_tool('test.py'), trained_toy['config'], evil, '--work-dir',
                  str(tmp_path / 'w')]):
        proc = run(args)
        assert proc.returncode != 0
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith('langseg.utils.errors.CheckpointError: refused to load '
                               f'{evil}: it pickles posix.system'), proc.stderr[-3000:]
        assert not osp.exists(marker), 'the pickled command ran'


# ------------------------------------------------------------- mmseg's Python APIs

APIS = r'''
import json, sys
import numpy as np
from mmseg.apis import MMSegInferencer, inference_model, init_model

config, checkpoint = sys.argv[1], (sys.argv[2] or None)
rng = np.random.default_rng(0)
image = rng.integers(0, 255, (48, 56, 3), dtype=np.uint8)
model = init_model(config, checkpoint, device='cpu')
sample = inference_model(model, image)
inferencer = MMSegInferencer(model=config, weights=checkpoint, device='cpu')
result = inferencer(image, return_vis=True)
print(json.dumps(dict(
    type=type(model).__name__,
    pred_shape=list(sample.pred_sem_seg.data.shape),
    classes=list(model.dataset_meta['classes']),
    palette=len(model.dataset_meta['palette']),
    inferencer_classes=list(inferencer.model.dataset_meta['classes']),
    legend_classes=list(inferencer.visualizer.dataset_meta['classes']),
    vis_shape=list(np.asarray(result['visualization']).shape),
    pred_max=int(np.asarray(result['predictions']).max()))))
'''


def apis_on(config: str, checkpoint: str | None) -> dict:
    proc = run(['-c', APIS, config, checkpoint or ''])
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def trained_convformer(tmp_path_factory, ) -> dict:
    """A 4-iteration Conv-Former toy run (the language-guided segmentor)."""
    from langseg.datasets.toy_shapes import generate_toy_shapes
    from .conftest import TINY_TOY
    base = tmp_path_factory.mktemp('convformer')
    root = str(base / 'toy')
    generate_toy_shapes(root, progress=False, **TINY_TOY)
    config = write_config(str(base / 'convformer.py'), CONVFORMER_TOY,
                          tiny_toy_body(root, max_iters=4, val_interval=4, ckpt_interval=4))
    proc = run_tool('train.py', config, '--work-dir', str(base / 'work'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(config=config, checkpoint=str(base / 'work' / 'iter_4.pth'))


@pytest.mark.slow
def test_apis_on_a_language_guided_checkpoint(trained_convformer):
    from langseg.datasets.toy_shapes import TOY_CLASSES
    out = apis_on(trained_convformer['config'], trained_convformer['checkpoint'])
    assert out['type'] == 'LanguageGuidedEncoderDecoder'
    assert out['pred_shape'] == [1, 48, 56]
    assert out['classes'] == list(TOY_CLASSES) == out['legend_classes']
    assert out['vis_shape'] == [48, 56, 3]


TINY_PROXYCLIP = """
model = dict(class_names=['cat; kitten', 'dog', 'sky'], templates='a photo of a {}.',
             clip=dict(arch='tiny-vit', pretrained=None), slide_crop=32, slide_stride=16,
             pad_multiple=8,
             vfm=dict(name=None, model_name='vit_small_patch8_224.dino', pretrained=None,
                      model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)))
"""

TINY_SEGCLIP = """
tiny = dict(_delete_=True, embed_dim=32,
            vision_cfg=dict(image_size=64, layers=4, width=32, patch_size=8, head_width=16),
            text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2))
model = dict(backbone=dict(arch=tiny, pretrained=None, plug_layer=2, num_centers=4),
             class_names=['background', 'cat; kitten', 'dog'], templates='a {}',
             data_preprocessor=dict(size=None), slide_crop=32, slide_stride=32)
"""


@pytest.mark.slow
@pytest.mark.parametrize('name,base,body,classes', [
    ('proxyclip', PROXYCLIP_VOC, TINY_PROXYCLIP, ['cat', 'dog', 'sky']),
    ('segclip', SEGCLIP_VOC, TINY_SEGCLIP, ['background', 'cat', 'dog'])])
def test_apis_on_open_vocabulary_configs(tmp_path, name, base, body, classes):
    config = write_config(str(tmp_path / f'{name}.py'), base, body)
    out = apis_on(config, None)
    # init_model passes pretrained=None and train_cfg=None; the legend carries the model's
    # own vocabulary (one name a class), not the Cityscapes names MMSegInferencer assigns
    assert out['classes'] == classes == out['inferencer_classes'] == out['legend_classes']
    assert out['palette'] == len(classes)
    assert out['pred_shape'] == [1, 48, 56] and out['vis_shape'] == [48, 56, 3]
    assert out['pred_max'] < len(classes)


@pytest.mark.slow
def test_segclip_pretraining_checkpoint_stores_its_zero_shot_classes(tmp_path):
    """A checkpoint of image-text pretraining (no classes in its training set) carries the
    zero-shot class names; init_model and the inferencer label with them."""
    from langseg.datasets.toy_shapes import TOY_CLASSES
    small = dict(num_train=16, num_val=4, size=96, seed=0)
    config = write_config(str(tmp_path / 'segclip_toy.py'), SEGCLIP_TOY, f"""
    toy_generate = {small!r}
    train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                            dataset=dict(generate=toy_generate))
    val_dataloader = dict(num_workers=0, persistent_workers=False,
                          dataset=dict(generate=toy_generate))
    test_dataloader = val_dataloader
    train_cfg = dict(max_iters=2, val_interval=2)
    default_hooks = dict(checkpoint=dict(interval=2))
    """)
    # data_root 'data/toy_shapes' is relative: run from a fresh folder, as documented
    proc = run_tool('train.py', config, '--work-dir', str(tmp_path / 'work'),
                    cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    checkpoint = str(tmp_path / 'work' / 'iter_2.pth')
    import torch
    import langseg  # noqa: F401  (the allowlist)
    meta = torch.load(checkpoint, map_location='cpu', weights_only=True)['meta']
    assert list(meta['dataset_meta']['classes']) == list(TOY_CLASSES)
    assert len(meta['dataset_meta']['palette']) == len(TOY_CLASSES)
    proc = run(['-c', APIS, config, checkpoint], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out['classes'] == list(TOY_CLASSES) == out['legend_classes']


def test_every_config_with_tta_model_has_a_tta_pipeline():
    import glob
    from mmengine.config import Config
    configs = [f for f in sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                                           recursive=True)) if '_base_' not in f]
    missing = []
    for path in configs:
        cfg = Config.fromfile(path, import_custom_modules=False)
        if cfg.get('tta_model') is not None:
            pipeline = cfg.get('tta_pipeline')
            if not pipeline or pipeline[-1].get('type') != 'TestTimeAug':
                missing.append(osp.relpath(path, REPO))
    assert len(configs) > 100 and not missing, missing


def test_open_vocab_predict_undoes_a_test_time_flip():
    import torch
    from mmseg.structures import SegDataSample
    import langseg  # noqa: F401
    from langseg.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    cfg = Config.fromfile(PROXYCLIP_VOC)
    cfg.merge_from_dict(Config.fromstring(TINY_PROXYCLIP, '.py').to_dict())
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    # RGB pixels (the model's input) whose CLIP normalisation is standard normal
    image = torch.randn(1, 3, 40, 48) * model.clip_std + model.clip_mean

    def predict(x, flip):
        meta = dict(img_shape=(40, 48), ori_shape=(40, 48), flip=flip,
                    flip_direction='horizontal' if flip else None)
        return model.predict(x, [SegDataSample(metainfo=meta)])[0]

    # the TTA pipeline flips the image and says so in the metainfo: the prediction comes
    # back in the image's orientation (the model itself is not flip-invariant)
    as_given, undone = predict(image.flip(-1), False), predict(image.flip(-1), True)
    assert not torch.equal(as_given.pred_sem_seg.data, as_given.pred_sem_seg.data.flip(-1))
    assert torch.equal(undone.pred_sem_seg.data, as_given.pred_sem_seg.data.flip(-1))
    assert torch.equal(undone.seg_logits.data, as_given.seg_logits.data.flip(-1))


# ------------------------------------------------------- the demos, from any folder

TINY_DEMO_OPTIONS = ['--cfg-options', 'model.clip.arch=tiny-vit', 'model.clip.pretrained=None',
                     'model.vfm.name=None', 'model.vfm.model_name=vit_small_patch8_224.dino',
                     'model.vfm.pretrained=None', 'model.vfm.model_kwargs.depth=1',
                     'model.vfm.model_kwargs.embed_dim=32', 'model.vfm.model_kwargs.num_heads=2',
                     'model.templates=a photo of a {}.', 'model.slide_crop=32',
                     'model.slide_stride=32', 'model.pad_multiple=8']


def test_demo_finds_its_default_config_from_another_folder(tmp_path):
    import cv2
    import numpy as np
    image = str(tmp_path / 'in.png')
    cv2.imwrite(image, np.random.default_rng(0).integers(0, 255, (40, 48, 3), np.uint8))
    proc = run_tool('demo.py', image, '--classes', 'cat; kitten, dog', '--out',
                    str(tmp_path / 'out.png'), *TINY_DEMO_OPTIONS, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert osp.isfile(tmp_path / 'out.png') and 'cat; kitten:' in proc.stdout
    web = run(['-c', 'import runpy, sys; print(runpy.run_path(sys.argv[1])["DEFAULT_CONFIG"])',
               osp.join(REPO, 'tools', 'webdemo.py')], cwd=str(tmp_path))
    assert web.returncode == 0, web.stderr[-2000:]
    assert web.stdout.strip().splitlines()[-1] == osp.join(
        REPO, 'configs', 'proxyclip', 'proxyclip_vit-b16-dino-b8_voc21.py')
