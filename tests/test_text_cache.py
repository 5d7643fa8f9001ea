"""Prompt embeddings of a frozen text tower are cached on disk, keyed by the tower's
weights, the templates and the names: a fresh model reuses them without encoding, and a
changed weight or vocabulary never reuses a stale entry."""
import os

import pytest
import torch

import langseg  # noqa: F401
from langseg.models.clip import text_encoder as te

NAMES = ['cat; kitten', 'dog', 'sky']
TEMPLATES = ['a photo of a {}.', 'a {}']


def encoder(names=NAMES) -> te.FrozenCLIPTextEncoder:
    torch.manual_seed(0)
    return te.FrozenCLIPTextEncoder(arch='tiny-text', pretrained=None, class_names=names,
                                    templates=TEMPLATES, synonyms='none')


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv('LANGSEG_CACHE_DIR', str(tmp_path))
    return tmp_path / 'text_embeddings'


def entries(folder) -> set:
    return set(os.listdir(folder)) if folder.exists() else set()


def test_a_fresh_model_reuses_the_cached_embeddings(cache, monkeypatch):
    first = encoder()()
    assert len(entries(cache)) == 1
    reference = te.class_prompt_embeddings  # the only encoding path

    def no_encoding(*args, **kwargs):
        raise AssertionError('the prompts were encoded again')

    monkeypatch.setattr(te, 'class_prompt_embeddings', no_encoding)
    second = encoder()
    torch.testing.assert_close(second(), first, rtol=0, atol=0)
    assert second.query_to_class.tolist() == [0, 0, 1, 2]
    monkeypatch.setattr(te, 'class_prompt_embeddings', reference)


def test_changed_weights_or_names_never_reuse_a_stale_entry(cache):
    model = encoder()
    before = model().clone()
    with torch.no_grad():
        model.text.text_projection.add_(torch.randn_like(model.text.text_projection))  # in place
    model.invalidate_cache()
    after = model()
    assert len(entries(cache)) == 2
    assert not torch.allclose(before, after)
    # uncached truth for the changed weights
    torch.testing.assert_close(after, model.forward_uncached())
    other = encoder(['cat', 'dog'])
    assert other().shape[0] == 2 and len(entries(cache)) == 3
    # another weights file: same architecture, other values
    torch.manual_seed(1)
    changed = te.FrozenCLIPTextEncoder(arch='tiny-text', pretrained=None, class_names=NAMES,
                                       templates=TEMPLATES, synonyms='none')
    torch.testing.assert_close(changed(), changed.forward_uncached())
    assert len(entries(cache)) == 4


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv('LANGSEG_CACHE_DIR', 'off')
    assert te.text_cache_dir() is None
    encoder()()
    assert not any(tmp_path.iterdir())


def test_the_uncached_forward_runs_the_tower_and_get_flops_counts_it(cache):
    """``forward_uncached`` (what get_flops counts as the text encoder's cost) goes through
    the tower even when a disk entry exists: it once read the entry and counted 0 FLOPs."""
    from langseg.evaluation.flops import _Call, flop_analysis
    first = encoder()
    first()
    assert len(entries(cache)) == 1
    fresh = encoder()
    calls = []
    fresh.text.transformer.register_forward_hook(lambda *args: calls.append(1))
    fresh()                   # the disk entry: no tower pass
    assert calls == []
    fresh.forward_uncached()  # the tower
    assert calls == [1]
    assert flop_analysis(_Call(fresh, 'forward_uncached'), ()).total() > 0
