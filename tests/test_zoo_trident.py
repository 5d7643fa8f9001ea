"""Trident (Shi, Dong and Xu, "Harnessing Vision Foundation Models for High-Performance,
Training-Free Open Vocabulary Segmentation", ICCV 2025, arXiv:2411.09219) against its
official code (github.com/YuHengsss/Trident at a93b346).

tests/data/parity/trident.pt holds the official outputs recorded by
tools/parity/record_trident.py on the seeded tiny towers built below (fp32, CPU): for a
1024 x 768 and a 768 x 1024 image (15 sub-images each, SAM's 64 x 48 grid), the logits at
the original size (every 16th pixel) and the labels (every 4th pixel) of the
``sam_refinement=False`` path. Each step is also checked against a literal transcription of
its formula.

tests/data/parity/trident_sam.pt (tools/parity/record_trident_sam.py) holds the official
SAM refinement (``seg_utils/utils.py`` ``sam_refinement``, segment-anything's decoder on
the seeded decoders of tests/test_sam_prompt.py): the refined labels and probabilities of
seeded coarse maps of a 144 x 144 and a 150 x 201 image, and of the whole official
``--sam_refine`` path on the first image above."""
import functools
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

import langseg  # noqa: F401
from langseg.utils.errors import ConfigError
from mmseg.registry import MODELS

from .conftest import REPO, write_config
from .test_sam_prompt import inputs as sam_parity

REFERENCE = osp.join(osp.dirname(__file__), 'data', 'parity', 'trident.pt')
SAM_REFERENCE = osp.join(osp.dirname(__file__), 'data', 'parity', 'trident_sam.pt')
#: the end-to-end decoder: the width of the tiny SAM encoder's neck
E2E_DECODER_KW = sam_parity.E2E_DECODER_KW
tiny_decoder, refine_inputs = sam_parity.tiny_decoder, sam_parity.refine_inputs
CLASSES = ['sky; cloud; wall', 'cat', 'dog']
CLIP_MEAN = [122.771, 116.746, 104.094]
CLIP_STD = [68.501, 66.632, 70.323]
TINY_DINO = dict(type='TimmVFM', name=None, model_name='vit_small_patch16_224.dino',
                 pretrained=None, pos_interp='bicubic-offset',
                 model_kwargs=dict(depth=2, embed_dim=32, num_heads=2))
SAM_KW = dict(embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1, ), window_size=4,
              neck_chans=16)
TINY_SAM = dict(type='TimmVFM', name='sam-b', pretrained=None, model_kwargs=SAM_KW)


@functools.lru_cache(maxsize=1)
def tiny_towers():
    """The seeded towers of the recording (tools/parity/record_trident.py builds the same)."""
    from langseg.models.backbones.vfm import TimmVFM
    from langseg.models.clip import FrozenCLIPTextEncoder, build_visual_tower
    torch.manual_seed(0)
    visual = build_visual_tower('tiny-vit').eval()
    torch.manual_seed(1)
    text = FrozenCLIPTextEncoder(arch='tiny-vit', pretrained=None, class_names=CLASSES,
                                 templates='openai_imagenet', synonyms='none').eval()
    torch.manual_seed(2)
    dino = TimmVFM(**{k: v for k, v in TINY_DINO.items() if k != 'type'}).eval()
    torch.manual_seed(5)
    sam = TimmVFM(name='sam-b', pretrained=None, model_kwargs=dict(SAM_KW)).eval()
    torch.manual_seed(3)
    with torch.no_grad():
        visual.positional_embedding.normal_(std=0.5)
        dino.model.pos_embed.normal_(std=0.3)
        sam.model.pos_embed.normal_(std=0.3)
        for block in sam.model.blocks:
            block.attn.rel_pos_h.normal_(std=0.5)
            block.attn.rel_pos_w.normal_(std=0.5)
    return visual, text, dino, sam


def inputs(ref):
    """The recording's uint8 images (H, W, 3)."""
    g = torch.Generator().manual_seed(4)
    out = []
    for h, w in ref['sizes']:
        cells = torch.rand(1, 3, h // 64, w // 64, generator=g) * 255
        img = F.interpolate(cells, size=(h, w), mode='nearest')[0] + \
            8 * torch.randn(3, h, w, generator=g)
        out.append(img.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).contiguous())
    return out


@pytest.fixture(scope='module')
def ref():
    return torch.load(REFERENCE, weights_only=True)


@pytest.fixture(scope='module')
def sam_ref():
    return torch.load(SAM_REFERENCE, weights_only=True)


_MODELS = {}


def tiny_trident(ref, **kwargs):
    """The tiny model on the recording's weights (built once per settings)."""
    key = repr(sorted(kwargs.items()))
    if key not in _MODELS:
        _MODELS[key] = build_tiny_trident(ref, **kwargs)
    return _MODELS[key]


def build_tiny_trident(ref, **kwargs):
    init_default_scope('mmseg')
    cfg = dict(type='TridentSegmentor', class_names=CLASSES,
               clip=dict(arch='tiny-vit', pretrained=None, mean=CLIP_MEAN, std=CLIP_STD),
               vfm=TINY_DINO, sam=TINY_SAM, prob_thd=ref['settings']['prob_thd'],
               data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True))
    cfg.update(kwargs)
    model = MODELS.build(cfg).eval()
    visual, text, dino, sam = tiny_towers()
    model.visual.load_state_dict(visual.state_dict())
    model.text_encoder.load_state_dict(text.state_dict())
    model.vfm.load_state_dict(dino.state_dict())
    model.sam.load_state_dict(sam.state_dict())
    return model


def test_recorded_settings_are_the_defaults(ref):
    s = ref['settings']
    model = tiny_trident(ref)
    assert (model.beta, model.gamma, model.cos_fac, model.refine_neg_cos) == \
        (s['beta'], s['gamma'], s['cos_fac'], s['refine_neg_cos'])
    assert model.windows.crop == (s['slide_crop'], ) * 2
    assert model.windows.stride == (s['slide_stride'], ) * 2
    assert model.logit_scale_post == s['logit_scale'] and model.sam_split == 1
    assert not model.sam_refinement and model.sam_decoder is None   # trident.py:31
    with torch.no_grad():
        torch.testing.assert_close(model.text_encoder(), ref['text'], atol=1e-6, rtol=0)


def test_images_equal_the_official(ref):
    """Logits to 1e-4 at the original size, labels >= 99.9 % equal (measured: 7.8e-5 and
    2.8e-5, 100 %; with ``official_vfm_input=True`` 7.6e-5 and 2.8e-5: what remains is
    SAM's cosine threshold, which float rounding of 1e-7 in SAM's values moves for a few
    pairs). The labels are the shared post-processing of these scores (``predict``)."""
    model = tiny_trident(ref)
    for k, img in enumerate(inputs(ref)):
        x = img.permute(2, 0, 1).float()
        with torch.no_grad():
            grid = model.image_logits([x])[0]
            probs, labels = model.postprocess(grid, x.shape[-2:], x)
        assert grid.shape[-2:] == (x.shape[1] // 16, x.shape[2] // 16)   # SAM's grid
        full = F.interpolate(grid[None], size=x.shape[-2:], mode='bilinear',
                             align_corners=False)[0]
        diff = (full[:, ::16, ::16] - ref[f'image{k}_logits']).abs().max()
        equal = (labels[::4, ::4].to(torch.uint8) == ref[f'image{k}_labels']).float().mean()
        print(f'image {tuple(x.shape[1:])}: max |diff| {diff:.2e}, labels equal '
              f'{100 * equal:.2f} %')
        assert diff < 1e-4 and equal >= 0.999
        assert probs.shape == (3, *x.shape[1:])


def test_image_proxy_attention_takes_one_mean_over_all_windows():
    from langseg.methods.trident import image_proxy_attention
    torch.manual_seed(0)
    feats = torch.randn(3, 8, 4, 5)
    feats[1] += 2 * torch.randn(8, 1, 1)     # windows of different mean similarity
    values = torch.randn(3, 20, 6)
    out = image_proxy_attention(values, feats, 1.2, 3.0)
    q = F.normalize(feats.flatten(2), dim=1)
    sims = [q[i].T @ q[i] for i in range(3)]
    mean = torch.stack(sims).mean()
    for i in range(3):
        logits = (sims[i] - mean * 1.2) * 3.0
        logits[logits < 0] = float('-inf')
        torch.testing.assert_close(out[i], torch.softmax(logits, -1) @ values[i],
                                   atol=1e-5, rtol=1e-5)
    per_window = (sims[1] - sims[1].mean() * 1.2) * 3.0
    per_window[per_window < 0] = float('-inf')
    assert (out[1] - torch.softmax(per_window, -1) @ values[1]).abs().max() > 1e-3


@pytest.mark.parametrize('cos_fac,refine_neg_cos', [(1.2, True), (0.0, True), (3.0, True),
                                                    (1.2, False)])
def test_sam_guidance_equals_its_formula(cos_fac, refine_neg_cos):
    from langseg.methods.trident import sam_guidance
    torch.manual_seed(0)
    heads, n, d = 2, 30, 4
    v = torch.randn(heads, n, d) - 0.3
    attn = torch.softmax(torch.randn(heads, n, n), dim=-1)
    weights = sam_guidance(v, attn, cos_fac, refine_neg_cos)
    ref = torch.zeros(n, n)
    for i in range(n):
        cos = torch.stack([F.cosine_similarity(v[h, i:i + 1], v[h], dim=-1)
                           for h in range(heads)])                      # heads, n
        t = cos_fac * cos.mean()
        if not refine_neg_cos and t < 0:
            t = torch.tensor(0.6)
        t = min(t, torch.tensor(0.9))
        row = torch.stack([torch.where(cos[h] > t, attn[h, i], torch.zeros(n))
                           for h in range(heads)]).mean(0)
        ref[i] = row / row.sum()
    torch.testing.assert_close(weights, ref, atol=1e-6, rtol=1e-5)


def test_splice_averages_overlapping_windows():
    from langseg.methods.trident import splice_windows
    wins = torch.stack([torch.full((2, 3, 3), 1.0), torch.full((2, 3, 3), 3.0)])
    out = splice_windows(wins, [(0, 3, 0, 3), (0, 3, 2, 5)], (3, 5))
    assert out[0, 0].tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]


def test_official_resize_rules():
    from langseg.methods.trident.segmentor import longest_side_size, stride_multiple_size
    # seg_utils/utils.py preprocess_image: 448 x 597 -> long side 608, short int(456.25)
    # -> 464; multiples of 16 are kept, even below the crop
    assert stride_multiple_size(448, 597, 16, 336) == (464, 608)
    assert stride_multiple_size(448, 592, 16, 336) == (448, 592)
    assert stride_multiple_size(100, 150, 16, 336) == (336, 336)
    # ResizeLongestSide.get_preprocess_shape: 448 x 608 -> 755 x 1024 (754.5 rounded up)
    assert longest_side_size(448, 608, 1024) == (755, 1024)


def test_cityscapes_halves_give_one_grid_side_by_side(ref):
    """sam_split=2 (the official Cityscapes case): SAM on the left and right halves, their
    grids side by side."""
    model = tiny_trident(ref, sam_split=2, cos_fac=3.0, sam_size=256)
    x = torch.rand(3, 344, 690) * 255          # sides rounded up to 352 x 704 first
    strips = model.sam_inputs(x)
    assert [tuple(s.shape[-2:]) for s in strips] == [(256, 256), (256, 256)]
    with torch.no_grad():
        grid = model.image_logits([x])[0]
    assert grid.shape == (5, 16, 32) and torch.isfinite(grid).all()


def test_refusals(ref):
    with pytest.raises(ConfigError, match='needs vfm and sam'):
        build_tiny_trident(ref, sam=None)
    with pytest.raises(ConfigError, match="kind 'sam'"):
        build_tiny_trident(ref, sam=TINY_DINO)
    with pytest.raises(ConfigError, match='multiples of CLIP'):
        build_tiny_trident(ref, slide_crop=330)
    with pytest.raises(ConfigError, match='pad_multiple'):
        build_tiny_trident(ref, pad_multiple=56)
    arch = dict(embed_dim=32, init_logit_bias=-10,
                vision_cfg=dict(image_size=64, timm_model_name='vit_tiny_patch16_224',
                                timm_model_pretrained=False, timm_pool='map',
                                timm_proj='none'),
                text_cfg=dict(context_length=16, vocab_size=32000, width=32, heads=2,
                              layers=1, no_causal_mask=True, proj_bias=True,
                              pool_type='last', norm_kwargs=dict(eps=1e-6)))
    with pytest.raises(ConfigError, match="not open_clip's VisionTransformer"):
        build_tiny_trident(ref, clip=dict(arch=arch, pretrained=None))


CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs/trident/trident_vit-b16_*.py')))
TINY = f"""
model = dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None, model_name='vit_small_patch16_224.dino',
             pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    sam=dict(pretrained=None, model_kwargs={SAM_KW!r}),
    sam_decoder=dict(pretrained=None, **{E2E_DECODER_KW!r}),
    sam_size=256, templates='a photo of a {{}}.', slide_crop=48, slide_stride=32)
"""
RESIZE = {'voc21': 448, 'context60': 576, 'coco-object': 448, 'voc20': 336,
          'context59': 576, 'coco-stuff': 448, 'cityscapes': 688, 'ade20k': 576}
#: cfg_*.py coarse_thresh (the refinement) and refine_neg_cos (ADE20K, Cityscapes: False)
COARSE = {'voc21': 0.2, 'context60': 0.15, 'coco-object': 0.25, 'voc20': 0.2,
          'context59': 0.15, 'coco-stuff': 0.05, 'cityscapes': 0.10, 'ade20k': 0.05}


def test_eight_configs():
    names = [osp.basename(p)[len('trident_vit-b16_'):-3] for p in CONFIGS]
    assert names == sorted(RESIZE)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.basename(p)[16:-3])
def test_config_builds_and_runs_a_forward_with_tiny_towers(path, tmp_path):
    cfg = Config.fromfile(path)
    card = cfg.protocol
    assert {'dataset', 'published_miou', 'source', 'tolerance', 'weights', 'notes'} <= \
        set(card) and 'arXiv:2411.09219' in card.source and 'sam_refine' in card.notes
    bench = osp.basename(path)[len('trident_vit-b16_'):-3]
    resize = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'Resize'][0]
    assert resize.scale == (2048, RESIZE[bench])
    assert cfg.model.sam_split == (2 if bench == 'cityscapes' else 1)
    m = cfg.model   # the published --sam_refine path (base_config.py:17-19, trident.py:33)
    assert m.sam_refinement and m.coarse_thresh == COARSE[bench] and m.minimal_area == 225
    assert (m.sam_iou_thresh, m.sam_mask_coff) == (0.8, 0.005)
    assert m.sam_decoder.pretrained.endswith('sam_vit_b_01ec64.pth')
    assert m.refine_neg_cos == (bench not in ('ade20k', 'cityscapes'))
    tiny = Config.fromfile(write_config(str(tmp_path / 'tiny.py'), path, TINY))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(tiny.model).eval()
    with torch.no_grad():
        out = model.predict(torch.rand(1, 3, 64, 96) * 255)[0]
    assert out.pred_sem_seg.data.shape == (1, 64, 96)
    assert out.seg_logits.data.shape[0] == model.num_classes


def test_bf16_on_a_cpu_runs_the_same_path(ref):
    """cpu_precision='bf16': bf16 copies of the three towers; the scores stay close to
    fp32's (measured mean 0.001, max 0.02 on these random towers)."""
    low = tiny_trident(ref, cpu_precision='bf16', sam_size=256)
    full = tiny_trident(ref, sam_size=256)
    x = torch.rand(3, 160, 240, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        a, b = low.image_logits([x])[0], full.image_logits([x])[0]
    assert a.dtype == torch.float32 and a.shape == (5, 10, 16)
    assert (a - b).abs().mean() < 0.01 and (a - b).abs().max() < 0.1


# ------------------------------------------------------------------ SAM refinement
def run_refinement(sam_ref, name, decoder=None, **changes):
    from langseg.methods.trident.refinement import sam_refinement
    case = sam_ref['refine_cases'][name]
    seed = 31 + list(sam_ref['refine_cases']).index(name)
    labels, probs, emb = refine_inputs(case['size'], case['classes'], case['prob_thd'], seed)
    sam_size = tuple(-(-s // 16) * 16 for s in case['size'])
    settings = dict(coarse_thresh=case['coarse_thresh'], minimal_area=sam_ref['minimal_area'],
                    mask_coff=sam_ref['mask_coff'],
                    iou_thresh=sam_ref[f'refine_{name}']['iou_thresh'])
    settings.update(changes)
    out = sam_refinement(labels, probs, emb, decoder or tiny_decoder(1024), sam_size,
                         **settings)
    return labels, out


@pytest.mark.parametrize('name', ['square', 'nonsquare'])
def test_sam_refinement_equals_the_official(sam_ref, name):
    """seg_utils/utils.py sam_refinement on the same coarse map, embedding and decoder:
    144 x 144 (coarse_thresh 0: every class) and 150 x 201 (coarse_thresh 0.2, odd sides:
    half-size 75 x 100, SAM from 160 x 208) -> labels >= 99.9 % equal, probabilities to
    1e-5, the same prompts passing (measured: 100 %, 0.0; 9/18 and 11/21 pass; SAM changes
    12.6 % and 10.3 % of the labels)."""
    r = sam_ref[f'refine_{name}']
    coarse, (labels, probs, info) = run_refinement(sam_ref, name)
    equal = (labels.to(torch.uint8) == r['labels']).float().mean()
    diff = (probs[:, ::4, ::4] - r['probs']).abs().max()
    print(f'{name} {tuple(labels.shape)}: labels equal {100 * equal:.2f} %, probs max |diff| '
          f'{diff:.1e}, {info.passed}/{info.prompts} prompts pass, SAM changed '
          f'{100 * (labels != coarse).float().mean():.1f} %')
    assert equal >= 0.999 and diff < 1e-5
    assert (info.prompts, info.passed) == (r['prompts'], r['passed'])
    assert 0 < info.passed < info.prompts            # both branches ran
    assert torch.equal(info.boxes, r['boxes'])
    assert (labels != coarse).float().mean() > 0.05  # SAM changed the map


class _Ablated(torch.nn.Module):
    """A decoder whose predict drops one prompt or changes the mask prompt's layout."""

    def __init__(self, decoder, drop):
        super().__init__()
        self.decoder, self.drop = decoder, drop
        self.image_size, self.mask_threshold = decoder.image_size, decoder.mask_threshold
        self.mask_input_size = decoder.mask_input_size
        self.postprocess_masks = decoder.postprocess_masks

    def predict(self, embedding, original_size, **kw):
        if self.drop == 'batched_mask':      # SAM's intended (1, 1, 256, 256) layout
            kw['mask_input'] = kw['mask_input'][None]
        else:
            kw[self.drop] = None
            if self.drop == 'point_coords':
                kw['point_labels'] = None
        return self.decoder.predict(embedding, original_size, **kw)


@pytest.mark.parametrize('drop', ['boxes', 'point_coords', 'mask_input', 'batched_mask',
                                  'iou_thresh'])
def test_removing_a_refinement_step_changes_the_labels(sam_ref, drop):
    """The parity above can fail: without the box prompt, the point prompt or the mask
    prompt, with the mask prompt batched (SAM's layout rather than the official call's), or
    without the IoU threshold (every prompt passing), the labels differ from the official
    ones."""
    r = sam_ref['refine_square']
    if drop == 'iou_thresh':
        _, (labels, _, info) = run_refinement(sam_ref, 'square', iou_thresh=-1e9)
        assert info.passed == info.prompts
    else:
        _, (labels, _, _) = run_refinement(sam_ref, 'square',
                                           _Ablated(tiny_decoder(1024), drop))
    changed = (labels.to(torch.uint8) != r['labels']).float().mean()
    step = {'boxes': 'no box prompt', 'point_coords': 'no point prompt',
            'mask_input': 'no mask prompt', 'batched_mask': 'the mask prompt batched',
            'iou_thresh': 'no IoU threshold'}[drop]
    print(f'{step}: {100 * changed:.2f} % of the labels differ from the official')
    assert changed > 0.001


def test_refinement_end_to_end_equals_the_official(ref, sam_ref):
    """The whole official --sam_refine path (get_trident_seg, postprocess_result with
    sam_refinement) on the 1024 x 768 image: TridentSegmentor.predict with
    sam_refinement=True, SAM's embedding from the same encoder pass as its attention ->
    labels >= 99.9 % equal (every 4th pixel), probabilities to 1e-4 (every 32nd), the
    embedding to 1e-5 (measured: 100 %, 4.8e-5, 1.9e-6; 16 of 31 prompts pass)."""
    e = sam_ref['e2e']
    s = e['settings']
    model = build_tiny_trident(
        ref, sam_refinement=True, sam_decoder=dict(type='SamPromptDecoder', **E2E_DECODER_KW),
        coarse_thresh=s['coarse_thresh'], minimal_area=s['minimal_area'],
        sam_mask_coff=s['sam_mask_coff'], sam_iou_thresh=e['iou_thresh'])
    model.sam_decoder.load_state_dict(tiny_decoder(1024, seed=13, kw=E2E_DECODER_KW)
                                      .state_dict())
    x = inputs(ref)[0].permute(2, 0, 1).float()
    seen = []
    attention = model.sam_attention

    def watched(strip, embedding=False):   # the embedding predict takes from the SAM pass
        result = attention(strip, embedding)
        seen.append(result[2])
        return result
    model.sam_attention = watched
    with torch.no_grad():
        out = model.predict(x[None])[0]
    assert len(seen) == 1 and seen[0] is not None     # one SAM pass, the embedding from it
    emb = seen[0]
    labels, probs = out.pred_sem_seg.data[0], out.seg_logits.data
    equal = (labels[::4, ::4].to(torch.uint8) == e['labels']).float().mean()
    diff = (probs[:, ::32, ::32] - e['probs']).abs().max()
    emb_diff = (emb[0, :, ::4, ::4] - e['features']).abs().max()
    print(f'end to end {tuple(labels.shape)}: labels equal {100 * equal:.2f} %, probs max '
          f'|diff| {diff:.1e}, embedding max |diff| {emb_diff:.1e}')
    assert equal >= 0.999 and diff < 1e-4 and emb_diff < 1e-5
    assert e['passed'] > 0


def test_the_reused_embedding_equals_the_encoders_own(ref):
    """The embedding finished from the guidance's attention pass equals timm's
    forward_features of the same input (what a second encoder run would give)."""
    model = tiny_trident(ref, sam_size=256)
    x = torch.rand(3, 160, 240, generator=torch.Generator().manual_seed(1)) * 255
    with torch.no_grad():
        reused = model.sam_attention(model.sam_inputs(x)[0], embedding=True)[2]
        own, size = model.sam_embedding(x)
    assert size == (160, 240) and reused.shape == own.shape == (1, 16, 16, 16)
    torch.testing.assert_close(reused, own, atol=1e-5, rtol=1e-5)


def test_refinement_runs_on_cityscapes_halves(ref):
    """sam_split=2: the guidance from the two halves, the refinement's embedding from one
    more pass over the whole image (trident.py:152)."""
    model = build_tiny_trident(ref, sam_split=2, cos_fac=3.0, sam_size=256,
                               sam_refinement=True, coarse_thresh=0.0, sam_iou_thresh=-1e9,
                               sam_decoder=dict(type='SamPromptDecoder', **E2E_DECODER_KW))
    x = torch.rand(3, 96, 192, generator=torch.Generator().manual_seed(2)) * 255
    calls = []
    embedding = model.sam_embedding
    model.sam_embedding = lambda img: calls.append(img.shape) or embedding(img)
    with torch.no_grad():
        out = model.predict(x[None])[0]
    assert calls == [(3, 96, 192)]
    assert out.pred_sem_seg.data.shape == (1, 96, 192)
    assert out.seg_logits.data.shape == (3, 96, 192)


def test_refinement_refusals(ref, tmp_path):
    with pytest.raises(ConfigError, match='needs sam_decoder'):
        build_tiny_trident(ref, sam_refinement=True)
    with pytest.raises(ConfigError, match='embed_dim 256 differs'):
        build_tiny_trident(ref, sam_refinement=True, sam_decoder=dict(type='SamPromptDecoder'))
    with pytest.raises(ConfigError, match='image_size 512 differs'):
        build_tiny_trident(ref, sam_refinement=True,
                           sam_decoder=dict(image_size=512, **E2E_DECODER_KW))
    model = build_tiny_trident(ref, sam_refinement=True, sam_decoder=dict(
        pretrained=str(tmp_path / 'sam_vit_b_01ec64.pth'), **E2E_DECODER_KW))
    with pytest.raises(ConfigError, match='do not exist'):
        model.predict(torch.rand(1, 3, 64, 64) * 255)
