"""ProxyCLIP recipes as the official runs (github.com/mc-lan/ProxyCLIP): every benchmark
config resolves the official class-name file of its benchmark, line for line, through the
built model; VOC21's prob_thd is the official 0.2; langseg's richer vocabularies are opt-in
configs that claim no published number; ADE20K-847 and Pascal Context-459 read their 16-bit
labels and evaluate end to end through tools/test.py.

The official files are shipped in ``langseg/utils/vocabularies/cls_*.txt``; their sha256
below were computed from the official repository's files (``configs/cls_*.txt``) when they
were copied, so a changed byte of a shipped copy fails here."""
import glob
import hashlib
import os
import os.path as osp
import re

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from .conftest import REPO, run_tool, write_config

VOCAB_DIR = osp.join(REPO, 'langseg', 'utils', 'vocabularies')

#: sha256 of the official ProxyCLIP class-name files (configs/cls_*.txt), byte for byte.
OFFICIAL_SHA256 = {
    'cls_ade20k.txt': 'e53ded02c488bdb903ef000a2d207e4ac4f2bb4502a72572e4aab7c2504aef3a',
    'cls_ade20k847.txt': '5d6612d2a2f9778fc7270baf0db7bc800b054d1aa1f107e323197e8c54e33e26',
    'cls_city_scapes.txt': '6f6782fc1bf92bfd9f5562192e92045e0e093870e613f387f6c98fc66d4ceba4',
    'cls_coco_object.txt': '87b6d3e1d3adf5202f4fe5a2a939cfc62224065f3a8e44a8f64fe1a81b751dc6',
    'cls_coco_stuff.txt': 'fb98709b9ab1baff4fd930bac4a77772a0458c7d534911de545f9a4081e14a3e',
    'cls_context459.txt': '883209fb0be7f54a6e0e8a530e6cfdf0400a5dafa509809c8141bd78b3ce759f',
    'cls_context59.txt': 'cd808465f06a16169edc25580073f0eda347e64f06cc1c2e24acd0b237f6497d',
    'cls_context60.txt': '5e620446a8699f292a4c2e37fa8918a33dd4f14713dc1b3f22884d2be68b45a1',
    'cls_voc20.txt': '6b9a85ffb907e34ac920d704a520b45e1424bf96796ca7de5b1823ee202db119',
    'cls_voc21.txt': '6a194e9134d44459bf8b86ba89a9cf06242848051e04d130011c017bca3e3c05',
}

#: benchmark config suffix -> (official file, official prob_thd, short side, crop, stride)
#: (the official configs/cfg_*.py and the defaults of ProxyCLIPSegmentation)
OFFICIAL = {
    'voc21': ('cls_voc21.txt', 0.2, 336, 336, 112),
    'context60': ('cls_context60.txt', 0.15, 336, 336, 112),
    'coco-object': ('cls_coco_object.txt', 0.25, 336, 336, 112),
    'voc20': ('cls_voc20.txt', 0.0, 336, 336, 112),
    'context59': ('cls_context59.txt', 0.0, 336, 336, 112),
    'coco-stuff': ('cls_coco_stuff.txt', 0.0, 336, 336, 112),
    'cityscapes': ('cls_city_scapes.txt', 0.0, 448, 224, 112),
    'ade20k': ('cls_ade20k.txt', 0.0, 448, 336, 112),
    'ade847': ('cls_ade20k847.txt', 0.0, 448, 336, 112),
    'context459': ('cls_context459.txt', 0.0, 448, 336, 112),
}

TINY_MODEL = dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None, model_name='vit_small_patch8_224',
             pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    templates='a photo of a {}.', slide_crop=48, slide_stride=32)


def config_path(bench: str, variant: str = 'proxyclip') -> str:
    return osp.join(REPO, 'configs', 'proxyclip', f'{variant}_vit-b16-dino-b8_{bench}.py')


def official_parse(path: str) -> tuple[list[str], list[int]]:
    """The official ``get_cls_idx`` (proxyclip_segmentor.py): lines split on '; ', the
    newline removed; returns (query names, class index of each query)."""
    with open(path) as f:
        name_sets = f.readlines()
    names, indices = [], []
    for idx, line in enumerate(name_sets):
        parts = line.split('; ')
        names += parts
        indices += [idx] * len(parts)
    return [n.replace('\n', '') for n in names], indices


def build_model(path: str):
    """The segmentor a run of ``path`` builds (the config's model, towers made tiny)."""
    import langseg  # noqa: F401  (registers the modules)
    from mmengine.registry import init_default_scope
    from langseg.registry import MODELS
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    cfg.merge_from_dict(dict(model=TINY_MODEL))
    return MODELS.build(cfg.model)


def test_shipped_official_files_are_the_official_bytes():
    for name, digest in OFFICIAL_SHA256.items():
        with open(osp.join(VOCAB_DIR, name), 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name
    # and they ship as package data
    with open(osp.join(REPO, 'pyproject.toml')) as f:
        assert '"langseg.utils" = ["vocabularies/*.txt"]' in f.read()


@pytest.mark.parametrize('bench', sorted(OFFICIAL))
def test_benchmark_config_resolves_the_official_class_names(bench):
    official_file = OFFICIAL[bench][0]
    assert Config.fromfile(config_path(bench)).model.class_names == official_file
    model = build_model(config_path(bench))
    names, indices = official_parse(osp.join(VOCAB_DIR, official_file))
    from langseg.models.clip.prompts import split_synonyms
    ours = [(w, i) for i, line in enumerate(model.class_names) for w in split_synonyms(line)]
    # one name differs only by surrounding whitespace: Context60's last line `wood `
    # (CLIP's tokenizer strips it: the same tokens); every other name is spelled exactly.
    assert [w for w, _ in ours] == [n.strip() for n in names]
    assert sum(n != n.strip() for n in names) == (1 if bench == 'context60' else 0)
    assert [i for _, i in ours] == indices
    assert len(model.class_names) == len(set(indices))
    # the queries the text encoder embeds belong to the official classes
    assert model.query_to_class().tolist() == indices


def test_official_spellings_reach_the_model():
    voc = build_model(config_path('voc21')).class_names
    assert voc[4] == 'ship' and voc[15] == 'person' and voc[16] == 'pottedplant' and \
        voc[20] == 'tvmonitor'
    coco_object = build_model(config_path('coco-object')).class_names
    assert coco_object[0].endswith('; cloud; floor; hill; rail') and coco_object[1] == 'person'
    assert 'wall-other' in build_model(config_path('coco-stuff')).class_names


@pytest.mark.parametrize('bench', sorted(OFFICIAL))
def test_benchmark_windows_resize_and_threshold_are_the_official(bench):
    _, prob_thd, short, crop, stride = OFFICIAL[bench]
    model = build_model(config_path(bench))
    assert model.prob_thd == pytest.approx(prob_thd)
    cfg = Config.fromfile(config_path(bench))
    assert (cfg.model.slide_crop, cfg.model.slide_stride) == (crop, stride)
    resize = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'Resize']
    assert [tuple(t.scale) for t in resize] == [(2048, short)]


def test_voc21_threshold_is_0_2_for_vit_b16_and_vit_h14():
    assert build_model(config_path('voc21')).prob_thd == pytest.approx(0.2)
    h14 = Config.fromfile(osp.join(REPO, 'configs/proxyclip/proxyclip_vit-h14-dino-b8_voc21.py'))
    assert h14.model.prob_thd == pytest.approx(0.2)
    with open(config_path('voc21')) as f:
        assert 'noted for CLIP ViT-B/16 (used here)' not in f.read()


RICH = {'voc21': 'voc21', 'context60': 'context60', 'coco-object': 'coco_object',
        'voc20': 'voc20', 'context59': 'context59', 'coco-stuff': 'coco_stuff',
        'cityscapes': 'cityscapes', 'ade20k': 'ade20k'}


@pytest.mark.parametrize('bench', sorted(RICH))
def test_rich_vocabularies_are_opt_in_configs_without_a_published_number(bench):
    cfg = Config.fromfile(config_path(bench, 'proxyclip-richvocab'))
    assert cfg.model.class_names == f'rich_{RICH[bench]}.txt'
    assert cfg.protocol.published_miou is None
    rich = build_model(config_path(bench, 'proxyclip-richvocab')).class_names
    assert any('person in shirt' in line for line in rich)
    assert len(rich) == len(build_model(config_path(bench)).class_names)


def test_no_published_row_uses_a_langseg_vocabulary():
    checked = 0
    for path in sorted(glob.glob(osp.join(REPO, 'configs', 'proxyclip', '*.py'))):
        cfg = Config.fromfile(path)
        if cfg.protocol.get('published_miou') is None:
            continue
        assert osp.basename(str(cfg.model.class_names)).startswith('cls_'), path
        checked += 1
    assert checked >= 13


# ----------------------------------------------------------------- 16-bit benchmarks
LAYOUT_16 = {
    'ade847': ('images_detectron2/validation', 'annotations_detectron2/validation', None,
               847),
    'context459': ('JPEGImages', 'annotations_detectron2/pc459_val',
                   'ImageSets/SegmentationContext/val.txt', 459),
}


def make_16bit_dataset(root: str, bench: str) -> None:
    img_dir, seg_dir, split, num_classes = LAYOUT_16[bench]
    rng = np.random.default_rng(0)
    for d in (img_dir, seg_dir):
        os.makedirs(osp.join(root, d), exist_ok=True)
    names = ['img0', 'img1']
    for i, name in enumerate(names):
        h, w = (40, 64) if i == 0 else (56, 44)
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
            osp.join(root, img_dir, name + '.jpg'))
        label = rng.integers(0, num_classes, (h, w)).astype(np.uint16)
        label[0, :4] = (300, 256, num_classes - 1, 65535)   # classes >= 256, unlabelled
        Image.fromarray(label).save(osp.join(root, seg_dir, name + '.tif'))
    if split:
        os.makedirs(osp.dirname(osp.join(root, split)), exist_ok=True)
        with open(osp.join(root, split), 'w') as f:
            f.write('\n'.join(names) + '\n')


@pytest.mark.parametrize('bench', sorted(LAYOUT_16))
def test_16bit_labels_survive_the_configs_pipeline(bench, tmp_path):
    import langseg  # noqa: F401
    from langseg.datasets import install_checked_loading
    from mmengine.registry import init_default_scope
    from langseg.registry import DATASETS
    init_default_scope('mmseg')
    root = str(tmp_path / 'data')
    make_16bit_dataset(root, bench)
    cfg = Config.fromfile(config_path(bench))
    cfg.test_dataloader.dataset.data_root = root
    assert cfg.test_evaluator.ignore_index == 65535
    install_checked_loading(cfg)
    loader = cfg.test_dataloader.dataset.pipeline[2]
    assert loader.type == 'LoadAnnotations16'
    assert loader.num_classes == LAYOUT_16[bench][3] and loader.ignore_index == 65535
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(dataset) == 2
    assert len(dataset.metainfo['classes']) == LAYOUT_16[bench][3]
    gt = dataset[0]['data_samples'].gt_sem_seg.data[0]
    assert gt[0, :4].tolist() == [300, 256, LAYOUT_16[bench][3] - 1, 65535]
    stored = np.asarray(Image.open(osp.join(root, LAYOUT_16[bench][1], 'img0.tif')))
    assert gt.numpy().astype(np.int64).tolist() == stored.astype(np.int64).tolist()


def test_16bit_png_labels_load_too_and_bad_values_are_named(tmp_path):
    import langseg  # noqa: F401
    from langseg.datasets import LoadAnnotations16
    from langseg.utils.errors import DataError
    path = str(tmp_path / 'label.png')
    label = np.array([[0, 300], [846, 65535]], dtype=np.uint16)
    Image.fromarray(label).save(path)
    results = dict(seg_map_path=path, reduce_zero_label=False, seg_fields=[],
                   ori_shape=(2, 2))
    out = LoadAnnotations16(num_classes=847, ignore_index=65535)(dict(results))
    assert out['gt_seg_map'].tolist() == label.astype(np.int64).tolist()
    with pytest.raises(DataError, match='holds values 846'):
        LoadAnnotations16(num_classes=459, ignore_index=65535)(dict(results, seg_fields=[]))


@pytest.mark.slow  # ~75 s each: tools/test.py encodes 847 / 459 class names
@pytest.mark.parametrize('bench', sorted(LAYOUT_16))
def test_16bit_benchmark_evaluates_end_to_end(bench, tmp_path):
    root = str(tmp_path / 'data')
    make_16bit_dataset(root, bench)
    body = f"""
model = dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None, model_name='vit_small_patch8_224',
             pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    templates='a photo of a {{}}.', slide_crop=48, slide_stride=32)
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root={root!r}))
val_dataloader = test_dataloader
"""
    config = write_config(str(tmp_path / 'cfg.py'), config_path(bench), body)
    proc = run_tool('test.py', config, '--work-dir', str(tmp_path / 'work'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    miou = re.findall(r'mIoU: ([\d.]+)', proc.stdout + proc.stderr)
    assert miou and 0.0 <= float(miou[-1]) <= 100.0


def test_missing_16bit_data_names_the_cat_seg_preparation(tmp_path):
    from langseg.engine.reproduce import plan
    _, problems = plan([config_path('ade847'), config_path('context459')],
                       str(tmp_path / 'nowhere'))
    assert len(problems) == 2
    assert 'prepare_ade20k_full.py' in problems[0] and 'ADE20K_2021_17_01' in problems[0]
    assert 'prepare_pascal_context_459.py' in problems[1]
