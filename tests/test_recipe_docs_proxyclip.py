"""docs/methods/proxyclip.md, "Recipe against the official code": the langseg column of
every row equals what the configs resolve to (and what the built models hold), and every
published ProxyCLIP benchmark row is in the table."""
import os.path as osp
import re

from mmengine.config import Config

from .conftest import REPO
from .test_recipes_proxyclip import VOCAB_DIR, build_model, config_path

DOC = osp.join(REPO, 'docs', 'methods', 'proxyclip.md')

BENCHMARKS = {'VOC21': 'voc21', 'Context60': 'context60', 'COCO-Object': 'coco-object',
              'VOC20': 'voc20', 'Context59': 'context59', 'COCO-Stuff': 'coco-stuff',
              'Cityscapes': 'cityscapes', 'ADE20K': 'ade20k', 'ADE20K-847': 'ade847',
              'Context459': 'context459'}
EIGHT = ('voc21', 'context60', 'coco-object', 'voc20', 'context59', 'coco-stuff',
         'cityscapes', 'ade20k')


def recipe_rows() -> dict[str, tuple[str, str, str]]:
    """setting -> (official, langseg value without backticks, verdict)."""
    with open(DOC) as f:
        text = f.read()
    match = re.search(r'\n## Recipe against the official code\n(.*?)\n## ', text, re.S)
    assert match, 'section "Recipe against the official code" missing'
    rows = {}
    for line in match.group(1).splitlines():
        if not line.startswith('| ') or line.startswith('| setting') or line.startswith('|---'):
            continue
        cells = [c.strip() for c in line.strip().strip('|').split(' | ')]
        assert len(cells) == 4, line
        value = re.fullmatch(r'`([^`]*)`', cells[2])
        assert value, f'langseg value of {cells[0]!r} is not one `value`: {cells[2]!r}'
        assert cells[3].startswith(('equal', 'departure: ')), line
        rows[cells[0]] = (cells[1], value.group(1), cells[3])
    return rows


def cfg(bench: str) -> Config:
    return Config.fromfile(config_path(bench))


def benchmark_value(bench: str) -> str:
    c = cfg(bench)
    resize = [t for t in c.test_dataloader.dataset.pipeline if t.type == 'Resize']
    assert len(resize) == 1
    return (f'{c.model.class_names} / {c.model.prob_thd:g} / {resize[0].scale[1]} / '
            f'{c.model.slide_crop} / {c.model.slide_stride}')


def same_for_all(fn) -> str:
    values = {fn(b) for b in BENCHMARKS.values()}
    assert len(values) == 1, values
    return values.pop()


def background_value() -> str:
    for bench, name in (('voc21', 'cls_voc21.txt'), ('context60', 'cls_context60.txt'),
                        ('coco-object', 'cls_coco_object.txt')):
        with open(osp.join(VOCAB_DIR, name)) as f:
            first = f.readline().rstrip('\n').strip()
        if build_model(config_path(bench)).class_names[0] != first:
            return f'{bench}: class 0 is not line 1'
    return 'class 0 = line 1'


def ignore_index(bench: str) -> int:
    return cfg(bench).test_evaluator.get('ignore_index', 255)


def resolved() -> dict[str, str]:
    values = {f'{name}: class names / prob_thd / short side / crop / stride':
              benchmark_value(bench) for name, bench in BENCHMARKS.items()}
    model = build_model(config_path('voc21'))
    pre = cfg('voc21').model.data_preprocessor
    ade847 = cfg('ade847').test_dataloader.dataset
    loaders = {t.type for b in ('ade847', 'context459')
               for t in cfg(b).test_dataloader.dataset.pipeline if 'Annotations' in t.type}
    values.update({
        'CLIP': same_for_all(lambda b: f'{cfg(b).model.clip.arch} '
                                       f'{cfg(b).model.clip.pretrained}'),
        'VFM': same_for_all(lambda b: cfg(b).model.vfm.name),
        'beta / gamma': same_for_all(lambda b: f'{cfg(b).model.beta} / {cfg(b).model.gamma}'),
        'logit scale': same_for_all(lambda b: str(cfg(b).model.logit_scale)),
        'templates': same_for_all(lambda b: cfg(b).model.templates),
        'synonyms': model.text_encoder.synonyms,
        'background': background_value(),
        # the CLIP tower's (the preprocessor gives RGB pixels and normalises nothing)
        'normalisation (mean / std, RGB)':
            f'{list(cfg("voc21").model.clip.mean)} / {list(cfg("voc21").model.clip.std)}'
            if pre.bgr_to_rgb and pre.get('mean') is None else 'BGR or normalised twice',
        'window padding': same_for_all(lambda b: str(cfg(b).model.pad_multiple)),
        'test batch size': same_for_all(lambda b: str(cfg(b).test_dataloader.batch_size)),
        'metric ignore_index, eight benchmarks':
            str({ignore_index(b) for b in EIGHT}.pop()) if
            len({ignore_index(b) for b in EIGHT}) == 1 else 'differs',
        'metric ignore_index, ADE20K-847 and Context459':
            str(ignore_index('ade847')) if ignore_index('ade847') ==
            ignore_index('context459') else 'differs',
        'ADE20K-847 image list': 'all images of the folder' if not ade847.get('ann_file')
        else ade847.ann_file,
        '16-bit labels': loaders.pop() if len(loaders) == 1 else str(sorted(loaders)),
        'precision': same_for_all(lambda b: cfg(b).model.precision),
    })
    return values


def test_recipe_table_langseg_column_equals_the_resolved_configs():
    rows = recipe_rows()
    expected = resolved()
    assert sorted(rows) == sorted(expected), (set(rows) ^ set(expected))
    for setting, value in expected.items():
        assert rows[setting][1] == value, (setting, rows[setting][1], value)
    # every "equal" row holds the official value where the table writes it out
    for name in BENCHMARKS:
        setting = f'{name}: class names / prob_thd / short side / crop / stride'
        assert rows[setting][0].startswith(expected[setting] + ' ('), setting
        assert rows[setting][2] == 'equal'


def test_published_rows_of_the_doc_use_the_official_settings():
    with open(DOC) as f:
        text = f.read()
    assert '| `configs/proxyclip/proxyclip_vit-b16-dino-b8_voc21.py` | VOC21 (336, 336/112, ' \
        '0.2) | 61.3 |' in text
    assert 'notes 0.1 for CLIP ViT-B/16' not in text
    for bench in ('ade847', 'context459'):
        assert f'`proxyclip_vit-b16-dino-b8_{bench}.py`' in text
