"""The shared CLIP layer: weights, prompts, text embeddings equal to open_clip's."""
import os.path as osp

import open_clip
import pytest
import torch
from open_clip.zero_shot_classifier import build_zero_shot_classifier

from langseg.utils.state_dict import read_state_dict
import langseg  # noqa: F401
from langseg.models.backbones import CLIPResNet, CLIPViT
from langseg.models.clip import (FrozenCLIPTextEncoder, get_clip_config, loading,
                                 resolve_templates, split_synonyms,
                                 tokenize)
from langseg.utils.errors import CheckpointError, ConfigError


def random_clip(arch: str, seed: int = 0) -> open_clip.CLIP:
    """A randomly initialised open_clip CLIP of ``arch`` (name or tiny dict)."""
    torch.manual_seed(seed)
    cfg = get_clip_config(arch)
    model = open_clip.CLIP(cfg['embed_dim'], cfg['vision_cfg'], cfg['text_cfg'],
                           quick_gelu=cfg.get('quick_gelu', False))
    # open_clip initialises the text projection/attnpool but leaves some tensors at 0;
    # perturb everything so that equalities cannot hold by accident.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model.eval()


@pytest.fixture(scope='module')
def tiny_rn_file(tmp_path_factory):
    model = random_clip('tiny-rn')
    path = str(tmp_path_factory.mktemp('w') / 'tiny_rn.pt')
    torch.save(model.state_dict(), path)
    return model, path


# ----------------------------------------------------------------------- prompts


def test_synonyms_and_templates():
    assert split_synonyms('car; automobile ;') == ['car', 'automobile']
    with pytest.raises(ConfigError, match='empty'):
        split_synonyms(' ; ')
    assert resolve_templates('a photo of a {}.') == ['a photo of a {}.']
    openai = resolve_templates('openai_imagenet')
    assert len(openai) == 80 and all(t.count('{}') == 1 for t in openai)
    with pytest.raises(ConfigError, match='one "{}"'):
        resolve_templates(['no placeholder'])


def test_unknown_architecture_names_close_ones():
    with pytest.raises(ConfigError, match='closest: RN50'):
        get_clip_config('RN5O')


# -------------------------------------------------------- text encoder == open_clip


def _reference_classifier(model, classnames, templates):
    tokenizer = open_clip.tokenizer.SimpleTokenizer()
    weights = build_zero_shot_classifier(
        model, tokenizer=tokenizer, classnames=classnames,
        templates=[(lambda c, t=t: t.format(c)) for t in templates],
        num_classes_per_batch=4, device='cpu', use_tqdm=False)
    return weights.T  # (K, D)


@pytest.mark.parametrize('templates', ['a photo of a {}.', 'openai_imagenet'])
def test_text_embeddings_equal_open_clip_tiny(tiny_rn_file, templates):
    model, path = tiny_rn_file
    names = ['red circle', 'blue square', 'sky', 'a very long class name with many words']
    enc = FrozenCLIPTextEncoder('tiny-rn', pretrained=path, class_names=names,
                                templates=templates, batch_size=64)
    enc.init_weights()
    ours = enc()
    ref = _reference_classifier(model, names, resolve_templates(templates))
    assert ours.shape == ref.shape == (4, 32)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.norm(dim=-1), torch.ones(4))


@pytest.mark.slow
def test_text_embeddings_equal_open_clip_full_rn50(tmp_path):
    model = random_clip('RN50')
    path = str(tmp_path / 'rn50.pt')
    torch.save({k: v for k, v in model.state_dict().items()
                if not k.startswith('visual.')}, path)
    names = ['wall', 'building; edifice', 'sky', 'floor', 'tree']
    # every 10th of OpenAI's 80 ImageNet templates: 8 templates x 6 names = 48 prompts in
    # batches of 20, so batches cross name boundaries (the full 80 cost 100 s on 2 cores
    # and test nothing more: the reference encodes the same strings)
    templates = resolve_templates('openai_imagenet')[::10]
    enc = FrozenCLIPTextEncoder('RN50', pretrained=path, class_names=names,
                                templates=templates, batch_size=20)
    enc.init_weights()
    ours = enc()
    ref_names = ['wall', 'building', 'sky', 'floor', 'tree']
    ref = _reference_classifier(model, ref_names, templates)
    # 'building; edifice' is the mean of two synonyms, not 'building' alone
    torch.testing.assert_close(ours[[0, 2, 3, 4]], ref[[0, 2, 3, 4]], atol=1e-5, rtol=0)
    both = _reference_classifier(model, ['building', 'edifice'], templates)
    mean = torch.nn.functional.normalize(both.mean(0), dim=-1)
    torch.testing.assert_close(ours[1], mean, atol=1e-5, rtol=0)


def test_embeddings_are_cached_and_recomputed_only_on_change(tiny_rn_file, monkeypatch):
    monkeypatch.setenv('LANGSEG_CACHE_DIR', 'off')  # the in-memory cache (disk: test_text_cache)
    _, path = tiny_rn_file
    enc = FrozenCLIPTextEncoder('tiny-rn', pretrained=path, class_names=['a', 'b'])
    enc.init_weights()
    calls = []
    enc.text.transformer.register_forward_hook(lambda *args: calls.append(1))
    first = enc()
    assert len(calls) == 1
    second = enc()
    assert len(calls) == 1 and second is first  # no text forward
    enc.set_class_names(['a', 'b'])  # same list: cache kept
    enc()
    assert len(calls) == 1
    enc.set_class_names(['a', 'b', 'c'])
    assert enc().shape[0] == 3 and len(calls) == 2
    assert 'embeddings' not in enc.state_dict()  # non-persistent
    enc.load_state_dict(enc.state_dict())  # new weights drop the cache
    enc()
    assert len(calls) == 3


def test_synonyms_kept_apart_map_to_their_class(tiny_rn_file):
    _, path = tiny_rn_file
    enc = FrozenCLIPTextEncoder('tiny-rn', pretrained=path, synonyms='none',
                                class_names=['cat; kitten', 'dog', 'sky; clouds; air'])
    enc.init_weights()
    emb = enc()
    assert emb.shape[0] == 6
    assert enc.query_to_class.tolist() == [0, 0, 1, 2, 2, 2]
    single = FrozenCLIPTextEncoder('tiny-rn', pretrained=path, class_names=['kitten'])
    single.init_weights()
    torch.testing.assert_close(emb[1], single()[0])


def test_many_prompts_are_batched(tiny_rn_file):
    _, path = tiny_rn_file
    enc = FrozenCLIPTextEncoder('tiny-rn', pretrained=path, class_names='ade20k',
                                batch_size=64)
    enc.init_weights()
    sizes = []
    enc.text.transformer.register_forward_hook(lambda m, i, o: sizes.append(i[0].shape[0]))
    assert enc().shape == (150, 32)
    assert sizes == [64, 64, 22]


def test_text_is_frozen_and_tokenizer_is_clip():
    enc = FrozenCLIPTextEncoder('tiny-text', class_names=['x'])
    assert not any(p.requires_grad for p in enc.parameters())
    enc.train()
    assert not enc.text.training
    tokens = tokenize(['a photo of a cat.'], 77)
    assert tokens.shape == (1, 77) and tokens[0, 0] == 49406 and 49407 in tokens[0].tolist()


# ---------------------------------------------------------------------- weights


def test_random_open_clip_state_dict_loads_with_zero_mismatch(tmp_path):
    for arch in ('tiny-rn', 'tiny-vit'):
        model = random_clip(arch)
        path = str(tmp_path / f'{arch}.pt')
        torch.save(model.state_dict(), path)
        backbone = (CLIPResNet(arch, pretrained=path) if arch == 'tiny-rn' else
                    CLIPViT(arch, pretrained=path, input_resolution=64,
                            out_indices=(0, 1, 2, 3)))
        state, _ = loading.load_clip_state_dict(arch, path)
        report = loading.load_tower_weights(backbone.visual,
                                            loading.tower_state_dict(state, 'visual'), arch)
        assert report['missing'] == report['unexpected'] == report['mismatched'] == []
        text = FrozenCLIPTextEncoder(arch, pretrained=path, class_names=['x'])
        report = loading.load_tower_weights(text.text, loading.tower_state_dict(state, 'text'),
                                            arch)
        assert report['missing'] == report['unexpected'] == report['mismatched'] == []
        torch.testing.assert_close(backbone.visual.conv1.weight, model.visual.conv1.weight,
                                   rtol=0, atol=0)


@pytest.mark.slow
def test_rn50_weights_into_rn101_are_refused_with_the_keys(tmp_path):
    model = random_clip('RN50')
    path = str(tmp_path / 'rn50.pt')
    torch.save({k: v for k, v in model.state_dict().items() if k.startswith('visual.')}, path)
    rn50 = CLIPResNet('RN50', pretrained=path)
    rn50.init_weights()  # fits
    rn101 = CLIPResNet('RN101', pretrained=path)
    with pytest.raises(CheckpointError) as err:
        rn101.init_weights()
    message = str(err.value)
    assert 'do not fit the CLIP ResNet backbone (RN101' in message
    assert 'missing keys: layer3.10' in message or 'missing keys: layer3.' in message
    assert 'mismatched keys: attnpool.c_proj' in message  # RN101 projects to 512, not 1024


def test_baseline_backbone_skips_the_attention_pool(tiny_rn_file):
    model, path = tiny_rn_file
    backbone = CLIPResNet('tiny-rn', pretrained=path, with_embeddings=False)
    backbone.init_weights()
    assert backbone.visual.attnpool is None
    assert len(backbone(torch.randn(1, 3, 64, 64))) == 4


def test_safetensors_and_torchscript_files(tmp_path, tiny_rn_file):
    model, _ = tiny_rn_file
    from safetensors.torch import save_file
    st = str(tmp_path / 'w.safetensors')
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, st)
    state, openai = read_state_dict(st, allow_torchscript=True)
    assert not openai and set(state) == set(model.state_dict())

    class Wrapper(torch.nn.Module):  # a TorchScript archive holding CLIP's modules
        def __init__(self, clip):
            super().__init__()
            self.visual = clip.visual

        def forward(self, x):
            return self.visual(x)

    scripted = torch.jit.trace(Wrapper(model), torch.randn(1, 3, 64, 64))
    ts = str(tmp_path / 'openai_like.pt')
    scripted.save(ts)
    state, openai = read_state_dict(ts, allow_torchscript=True)
    assert openai and 'visual.conv1.weight' in state
    # OpenAI archives mean QuickGELU
    assert loading.clip_weights_quick_gelu('RN50', ts, None, False)


def test_tag_that_cannot_be_downloaded_names_it_and_the_file_route(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError('no network')

    monkeypatch.setattr(open_clip, 'download_pretrained', offline)
    with pytest.raises(CheckpointError) as err:
        loading.resolve_pretrained('RN50', 'openai')
    text = str(err.value)
    assert 'RN50/openai' in text and 'no network' in text and "pretrained='/path/to" in text
    with pytest.raises(ConfigError, match='tags: .*laion2b_s32b_b79k'):
        loading.resolve_pretrained('ViT-H-14', 'not_a_tag')
    with pytest.raises(ConfigError, match='file does not exist'):
        loading.resolve_pretrained('RN50', '/no/such/file.pt')
    assert not osp.exists('/no/such/file.pt')


# ------------------------------------------------------------- activation of files
class _Lines(list):
    """The warning lines MMLogger (print_log(logger='current')) emits meanwhile."""

    def __enter__(self):
        import logging

        from mmengine.logging import MMLogger
        lines = self

        class Handler(logging.Handler):
            def emit(self, record):
                lines.append(record.getMessage())

        self.logger = MMLogger.get_current_instance()
        self.handler = Handler(level=logging.WARNING)
        self.logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)


def _tower_features(arch, pretrained, quick_gelu=None):
    """Image and text features of towers built from configs as a run builds them."""
    from langseg.registry import MODELS
    backbone = MODELS.build(dict(type='CLIPViT', arch=arch, pretrained=pretrained,
                                 quick_gelu=quick_gelu, input_resolution=64,
                                 out_indices=(0, 1, 2, 3), norm_cfg=dict(type='BN')))
    text = MODELS.build(dict(type='FrozenCLIPTextEncoder', arch=arch, pretrained=pretrained,
                             quick_gelu=quick_gelu, class_names=['cat']))
    backbone.init_weights()
    text.init_weights()
    torch.manual_seed(1)
    image, tokens = torch.randn(2, 3, 64, 64), tokenize(['a photo of a cat.', 'a dog'], 77)
    with torch.no_grad():
        return backbone.eval().visual(image), text.text(tokens), (image, tokens)


def test_local_quickgelu_weights_load_as_the_tag_does(tmp_path, monkeypatch):
    """A QuickGELU tower saved to files gives the features of the tag path, by every rule
    that can tell; a file that cannot tell gives GELU and exactly one warning line."""
    ref = random_clip('tiny-vit-quickgelu')
    assert isinstance(ref.visual.transformer.resblocks[0].mlp.gelu, open_clip.model.QuickGELU)
    state = ref.state_dict()
    plain = tmp_path / 'plain' / 'tiny.pt'
    keys = tmp_path / 'keys' / 'tiny.pt'
    hub = tmp_path / 'hub' / 'open_clip_pytorch_model.bin'
    for path in (plain, keys, hub):
        path.parent.mkdir()
    torch.save(state, plain)
    torch.save(dict(state, input_resolution=torch.tensor(64), context_length=torch.tensor(77),
                    vocab_size=torch.tensor(49408)), keys)  # an OpenAI archive's state dict
    torch.save(state, hub)
    import json
    (hub.parent / 'open_clip_config.json').write_text(json.dumps(
        {'model_cfg': dict(get_clip_config('tiny-vit'), quick_gelu=True)}))
    # the tag path: open_clip's pretrained config says QuickGELU (as for 'openai')
    real_cfg = open_clip.get_pretrained_cfg
    monkeypatch.setattr(open_clip, 'get_pretrained_cfg', lambda arch, tag: dict(
        url='', quick_gelu=True) if tag == 'test-openai' else real_cfg(arch, tag))
    monkeypatch.setattr(open_clip, 'download_pretrained', lambda cfg, **kw: str(plain))

    image, tokens = torch.randn(2, 3, 64, 64), None
    with _Lines() as lines:
        tag_img, tag_txt, (image, tokens) = _tower_features('tiny-vit', 'test-openai')
        with torch.no_grad():
            torch.testing.assert_close(tag_img, ref.visual(image), rtol=0, atol=1e-6)
            torch.testing.assert_close(tag_txt, ref.encode_text(tokens), rtol=0, atol=1e-6)
        for arch, path, quick_gelu in (('tiny-vit', keys, None), ('tiny-vit', hub, None),
                                       ('tiny-vit-quickgelu', plain, None),
                                       ('tiny-vit', plain, True)):
            img, txt, _ = _tower_features(arch, str(path), quick_gelu)
            torch.testing.assert_close(img, tag_img, rtol=0, atol=0)
            torch.testing.assert_close(txt, tag_txt, rtol=0, atol=0)
        assert not [line for line in lines if 'activation' in line]
        # a plain state dict under an architecture that names nothing: GELU, one warning
        # (two towers, built twice), saying the choice and how to make the other
        for _ in range(2):
            img, txt, _ = _tower_features('tiny-vit', str(plain))
        assert (img - tag_img).abs().max() > 1e-3 and (txt - tag_txt).abs().max() > 1e-3
        warned = [line for line in lines if 'activation' in line]
        assert len(warned) == 1 and '\n' not in warned[0], warned
        assert str(plain) in warned[0] and 'using GELU' in warned[0]
        assert "arch='tiny-vit-quickgelu' or quick_gelu=True" in warned[0]
        # naming GELU silences it
        _tower_features('tiny-vit', str(plain), quick_gelu=False)
        assert len([line for line in lines if 'activation' in line]) == 1


def test_sidecar_saying_gelu_and_a_bad_sidecar(tmp_path):
    import json
    path = tmp_path / 'open_clip_pytorch_model.bin'
    torch.save(random_clip('tiny-vit').state_dict(), path)
    sidecar = tmp_path / 'open_clip_config.json'
    sidecar.write_text(json.dumps({'model_cfg': get_clip_config('tiny-vit')}))
    assert loading.weights_file_quick_gelu(str(path))[0] is False
    with _Lines() as lines:
        assert not loading.clip_weights_quick_gelu('tiny-vit', str(path), None, None)
    assert not lines
    sidecar.write_text('{not json')
    with pytest.raises(ConfigError, match='open_clip_config.json beside the CLIP weights'):
        loading.weights_file_quick_gelu(str(path))


@pytest.mark.parametrize('arch', ['ViT-B-32', 'RN50'])
def test_tower_factory_builds_the_towers_of_open_clip_create_model(arch):
    """langseg builds one tower at a time with open_clip's tower builders
    (``open_clip.model._build_vision_tower`` / ``_build_text_tower``): open_clip 3.3 has no
    public builder of a single tower, and its public ``create_model`` builds both towers
    (a ViT-H backbone would build and drop a 354 M text tower) and changes the random
    draws of every random-initialised tower. This pins that the factory's towers are
    ``create_model``'s: same classes, parameter names and shapes, and equal outputs on
    ``create_model``'s weights (docs/architecture.md, "Dependencies' APIs")."""
    from langseg.models.clip import build_text_tower, build_visual_tower
    torch.manual_seed(0)
    model = open_clip.create_model(arch, pretrained=None).eval()
    visual = build_visual_tower(arch, quick_gelu=False).eval()
    assert type(visual) is type(model.visual)
    theirs = model.visual.state_dict()
    assert {k: v.shape for k, v in visual.state_dict().items()} == \
        {k: v.shape for k, v in theirs.items()}
    visual.load_state_dict(theirs)
    image = torch.randn(1, 3, 224, 224)
    torch.testing.assert_close(visual(image), model.encode_image(image))
    text = build_text_tower(arch, quick_gelu=False).eval()
    prefix = {'token_embedding', 'positional_embedding', 'transformer', 'ln_final',
              'text_projection', 'attn_mask'}
    text_state = {k: v for k, v in model.state_dict().items() if k.split('.')[0] in prefix}
    assert set(text.state_dict()) == set(text_state)
    text.load_state_dict(text_state)
    tokens = open_clip.tokenize(['a photo of a cat', 'a dog'])
    torch.testing.assert_close(text(tokens), model.encode_text(tokens))
