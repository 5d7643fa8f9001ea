"""The error policy of docs/architecture.md ("Conventions"): a mistake in a user's config,
file or input raises a ``LangsegError`` subclass (``ConfigError``, ``DataError``,
``CheckpointError``) with one line "what was wrong: what was expected"; ``ValueError`` and
``assert`` are left for programming errors.

The package and the tools are read with ``ast``: every ``raise ValueError`` and every
``assert`` must be on the allowlist below (one reason each), so a new user-facing
``ValueError`` fails here until it becomes a ``ConfigError`` or is argued onto the list.
A few of the converted checks are built from config dicts, as a config would build them.
"""
from __future__ import annotations

import ast
import os
import os.path as osp
from collections import Counter

import pytest

import langseg  # noqa: F401  (registers the modules)
from langseg.registry import HOOKS, MODELS
from langseg.utils.errors import ConfigError, LangsegError, did_you_mean

from .conftest import REPO

#: (file, enclosing function or class.method, kind) -> (count, why it is a programming
#: error and not a user's mistake). ``kind`` is 'ValueError' or 'assert'.
ALLOWED = {
    ('langseg/methods/segclip/pretrain.py', 'SegCLIPPretrainer.forward', 'ValueError'): (
        1, "mmengine's runner passes the mode ('loss', 'predict', 'tensor'): another is a "
           'caller bug'),
    ('langseg/models/segmentors/language_guided.py', 'LanguageGuidedEncoderDecoder.loss',
     'ValueError'): (
        1, "a fusion module's log_vars named like a loss: a bug of the module's code, not "
           'of a config'),
    ('langseg/models/segmentors/language_guided.py',
     'LanguageGuidedEncoderDecoder._inference_with_extras', 'ValueError'): (
        1, "mmseg's window arithmetic leaving a pixel uncovered: a bug, whatever the config"),
    ('langseg/methods/clip_sp/scene_labels.py', 'select_scene_labels', 'ValueError'): (
        2, "the function's contract (k in 1..K, ground truth given with a drop ratio); "
           'CLIPSPFusion checks its k with a ConfigError and always passes the ground truth'),
    ('langseg/models/layers/pos_embed.py', 'GridInterpolation.resize', 'ValueError'): (
        1, "a scale-factor preset must reproduce the requested size: a broken rule, not "
           "a user's input"),
    ('langseg/models/layers/pos_embed.py', 'resize_grid_pos_embed', 'ValueError'): (
        1, 'callers pass the grid size of the embedding they hold'),
    ('langseg/models/layers/pos_embed.py', 'square_grid', 'ValueError'): (
        1, "callers pass their own grids; a checkpoint's grid is checked first with a "
           'CheckpointError (models/clip/loading.py)'),
    ('langseg/models/clip/loading.py', 'tower_state_dict', 'ValueError'): (
        1, "tower is a literal ('visual' or 'text') of langseg's own callers"),
    ('tools/dataset_converters/coco_object.py', '<module>', 'assert'): (
        1, 'the length of a constant table of the script (80 COCO thing ids)'),
}


def _raises_of(source: str, path: str) -> Counter:
    """(path, enclosing scope, kind) of every ``raise ValueError`` and ``assert``."""
    found: Counter = Counter()

    def visit(node: ast.AST, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, scope + [child.name])
                continue
            where = '.'.join(scope) or '<module>'
            if isinstance(child, ast.Raise) and child.exc is not None:
                exc = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
                if isinstance(exc, ast.Name) and exc.id == 'ValueError':
                    found[(path, where, 'ValueError')] += 1
            elif isinstance(child, ast.Assert):
                found[(path, where, 'assert')] += 1
            visit(child, scope)

    visit(ast.parse(source), [])
    return found


def _package_raises() -> Counter:
    found: Counter = Counter()
    for top in ('langseg', 'tools'):
        for root, _, files in os.walk(osp.join(REPO, top)):
            for name in sorted(files):
                if name.endswith('.py'):
                    path = osp.join(root, name)
                    rel = osp.relpath(path, REPO).replace(os.sep, '/')
                    with open(path, encoding='utf-8') as f:
                        found += _raises_of(f.read(), rel)
    return found


def test_the_scan_finds_value_errors_and_asserts():
    source = ('def f(x):\n    if x:\n        raise ValueError("x")\n    assert x\n'
              'class A:\n    def g(self):\n        raise ValueError\n'
              'def h():\n    raise ConfigError("fine")\n')
    assert _raises_of(source, 'm.py') == Counter({('m.py', 'f', 'ValueError'): 1,
                                                  ('m.py', 'f', 'assert'): 1,
                                                  ('m.py', 'A.g', 'ValueError'): 1})


def test_no_user_facing_value_error_or_assert():
    found = _package_raises()
    unexpected = {site: n for site, n in found.items()
                  if site not in ALLOWED or n > ALLOWED[site][0]}
    assert not unexpected, (
        f'raise ValueError / assert outside the allowlist: {unexpected}. A check of a '
        "user's config, file or input raises ConfigError (or DataError/CheckpointError) "
        'with one line "what was wrong: what was expected"; a programming error goes on '
        'ALLOWED with its reason')
    stale = {site for site, (n, _) in ALLOWED.items() if found.get(site, 0) != n}
    assert not stale, f'allowlist entries that no longer match the code: {stale}'


@pytest.mark.parametrize('registry, cfg, message', [
    (MODELS, dict(type='ConvFormerNeck', in_channels=[8], text_dim=16, num_classes=3,
                  score_level=0, bridge='cross-attention'),
     "ConvFormerFusion bridge='cross-attention': expected one of cross_attention, "
     'inner_product'),
    (MODELS, dict(type='ConvFormerNeck', in_channels=[8], text_dim=16, num_classes=3,
                  score_level=0, score='dot'),
     "ConvFormerFusion score='dot': expected 'inner_product' or 'cosine'"),
    (MODELS, dict(type='DenseCLIPFusion', in_channels=[8, 16, 32, 64], text_dim=24,
                  num_classes=3, pool=dict(num_head=4)),
     "unknown attention pool settings ['num_head']: expected num_heads, spacial_dim"),
    (MODELS, dict(type='LearnableContextTextEncoder', arch='tiny-text', n_ctx=12,
                  context_length=13),
     'n_ctx=12 leaves no room for a class name in context_length=13: expected '
     '0 < n_ctx < context_length - 2'),
    (MODELS, dict(type='CLIPClassTextEncoder', arch='tiny-text', class_names=['a'],
                  synonyms='max'),
     "synonyms='max': expected 'mean' or 'none'"),
    (MODELS, dict(type='MLPMultiLabelDecoder', dim=8, num_classes=3, num_blocks=3),
     "MLPMultiLabelDecoder takes no ['num_blocks']: expected dim, hidden"),
    (MODELS, dict(type='AsymmetricLoss', reduction='avg'),
     "AsymmetricLoss reduction='avg': expected 'mean', 'sum' or 'none'"),
    (HOOKS, dict(type='BatchDropHook', r_start=0.1, r_end=0.5),
     'BatchDropHook r_start=0.1, r_end=0.5: expected 0 <= r_end <= r_start <= 1'),
    (HOOKS, dict(type='BatchDropHook', decay=1.5),
     'BatchDropHook decay=1.5: expected 0 < decay <= 1'),
])
def test_config_mistakes_raise_one_config_error_line(registry, cfg, message):
    with pytest.raises(ConfigError) as info:
        registry.build(cfg)
    text = str(info.value)
    assert text.startswith(message), text
    assert '\n' not in text


def test_a_fusion_without_embeddings_is_a_config_error():
    import torch

    from langseg.models.backbones import BackboneOutput
    fusion = MODELS.build(dict(type='ConvFormerFusion', in_channels=[8], text_dim=16,
                               num_classes=3, score_level=0, num_heads=2))
    # a backbone without CLIP embeddings (a timm or mmseg backbone: maps only)
    features = BackboneOutput.of([torch.randn(1, 8, 4, 4)])
    with pytest.raises(ConfigError, match='set use_embeddings=False for any other backbone'):
        fusion(features, torch.randn(3, 16))


def test_did_you_mean():
    assert did_you_mean('RN5', ['ViT-B-16', 'RN50', 'RN101']) == '; closest: RN50, RN101'
    assert did_you_mean('RN5', ['RN50'], label='closest registered names') == \
        '; closest registered names: RN50'
    assert did_you_mean('zzz', ['RN50']) == ''
    assert did_you_mean('max_itres', ['max_iters', 'val_interval'], n=1) == \
        '; closest: max_iters'
    assert issubclass(ConfigError, LangsegError)
