"""SAM's prompt encoder and mask decoder (Kirillov et al., "Segment Anything", ICCV 2023,
arXiv:2304.02643; langseg.models.backbones.sam_prompt) against the official code
(github.com/facebookresearch/segment-anything at dca509f).

tests/data/parity/trident_sam.pt holds the outputs of the official ``SamPredictor
.predict_torch`` (with segment-anything's ``PromptEncoder``, ``TwoWayTransformer`` and
``MaskDecoder`` carrying the state dict of the seeded decoder built below), recorded by
tools/parity/record_trident_sam.py: low-res logits (every 4th cell), IoU predictions,
upscaled logits and masks at the original size (every 12th pixel) of six prompt sets, and
the official key names and shapes of SAM's prompt encoder and mask decoder."""
import os.path as osp

import pytest
import torch

import langseg  # noqa: F401
from langseg.models.backbones.sam_prompt import (SamPromptDecoder, resize_longest_side,
                                                 transform_boxes, transform_coords)
from langseg.utils.errors import ConfigError

from .conftest import load_script

REFERENCE = osp.join(osp.dirname(__file__), 'data', 'parity', 'trident_sam.pt')
inputs = load_script('tools/parity/trident_sam_inputs.py')
DECODER_KW, ORIGINAL = inputs.DECODER_KW, inputs.ORIGINAL
tiny_decoder, decoder_cases = inputs.tiny_decoder, inputs.decoder_cases


@pytest.fixture(scope='module')
def ref():
    return torch.load(REFERENCE, weights_only=True)


def predict(dec, emb, case):
    return dec.predict(emb, ORIGINAL, point_coords=case.get('point_coords'),
                       point_labels=case.get('point_labels'), boxes=case.get('boxes'),
                       mask_input=case.get('mask_input'), multimask_output=case['multimask'])


@pytest.mark.parametrize('name', ['points', 'boxes', 'all_multi', 'all_single', 'mask_only',
                                  'unbatched_mask'])
def test_decoder_equals_the_official(ref, name):
    """Points (with the padding point), boxes, points + box + mask (multimask on / off), a
    mask alone, one unbatched mask for all prompts (Trident's call): low-res logits, IoU
    predictions and the upscaled logits to 1e-5, the masks equal (measured: 0, bit-equal)."""
    emb, cases = decoder_cases()
    out = predict(tiny_decoder(256), emb, cases[name])
    r = ref['decoder'][name]
    diffs = [(out.low_res_logits[..., ::4, ::4] - r['low_res']).abs().max(),
             (out.iou_predictions - r['iou']).abs().max(),
             (out.logits[..., ::12, ::12] - r['logits']).abs().max()]
    print(name, 'max |diff| low-res, iou, logits:', ', '.join(f'{d:.1e}' for d in diffs))
    assert out.masks.shape == (*r['iou'].shape, *ORIGINAL)
    assert out.low_res_logits.shape[-2:] == (64, 64)
    assert max(diffs) < 1e-5
    assert torch.equal(out.masks[..., ::12, ::12], r['masks'])


def test_multimask_selects_tokens_one_to_three():
    """multimask_output: the masks of tokens 1..3; otherwise token 0 (mask_decoder.py:101-107)."""
    emb, cases = decoder_cases()
    dec = tiny_decoder(256)
    one = predict(dec, emb, dict(cases['all_multi'], multimask=False))
    three = predict(dec, emb, cases['all_multi'])
    assert one.iou_predictions.shape == (2, 1) and three.iou_predictions.shape == (2, 3)
    assert not torch.allclose(one.low_res_logits[:, 0], three.low_res_logits[:, 0])


def test_predict_changes_nothing_on_the_module():
    """The predictor is a function of its arguments: no state is kept between calls."""
    emb, cases = decoder_cases()
    dec = tiny_decoder(256)
    before = ({k: v.clone() for k, v in dec.state_dict().items()}, set(vars(dec)))
    first = predict(dec, emb, cases['all_single'])
    dec.predict(torch.randn(1, 32, 16, 16), (300, 100), boxes=torch.tensor([[1., 2., 50., 90.]]))
    again = predict(dec, emb, cases['all_single'])
    assert torch.equal(first.logits, again.logits)
    assert set(vars(dec)) == before[1]
    assert all(torch.equal(v, before[0][k]) for k, v in dec.state_dict().items())


def test_resize_longest_side_transform():
    """utils/transforms.py: the long side to the target, the other rounded half up; points
    scaled per axis by the rounded sizes."""
    assert resize_longest_side((180, 240), 256) == (192, 256)
    assert resize_longest_side((375, 500), 1024) == (768, 1024)
    assert resize_longest_side((187, 250), 1024) == (766, 1024)    # 765.952 -> 766
    pts = torch.tensor([[[10.0, 20.0]]])
    out = transform_coords(pts, (187, 250), 1024)
    assert torch.allclose(out, torch.tensor([[[10 * 1024 / 250, 20 * 766 / 187]]]))
    box = transform_boxes(torch.tensor([[1.0, 2.0, 3.0, 4.0]]), (100, 50), 200)
    assert torch.allclose(box, torch.tensor([[2.0, 4.0, 6.0, 8.0]]))


def test_an_unbatched_mask_is_normalised_over_its_rows():
    """The official LayerNorm2d normalises over dim 1: a (1, 4h, 4w) mask (Trident's call)
    gives another dense embedding than the same mask batched (1, 1, 4h, 4w)."""
    dec = tiny_decoder(256)
    mask = torch.randn(1, 64, 64, generator=torch.Generator().manual_seed(0))
    _, batched = dec.prompt_encoder(None, None, mask[None])
    _, unbatched = dec.prompt_encoder(None, None, mask)
    assert batched.shape == (1, 32, 16, 16) and unbatched.shape == (32, 16, 16)
    assert (batched[0] - unbatched).abs().max() > 0.1


def test_official_key_names_load(ref, tmp_path):
    """The official SAM checkpoint's prompt_encoder.* / mask_decoder.* keys and shapes are
    the default decoder's; a checkpoint with them (and image_encoder.* keys, ignored) loads
    through ``pretrained`` (torch.load with weights_only)."""
    keys = ref['official_keys']
    dec = SamPromptDecoder()
    assert {k: tuple(v.shape) for k, v in dec.state_dict().items()} == keys
    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(shape, generator=g) for k, shape in keys.items()}
    state['image_encoder.patch_embed.proj.weight'] = torch.zeros(4, 3, 16, 16)
    path = tmp_path / 'sam_vit_b_01ec64.pth'
    torch.save(state, path)
    loaded = SamPromptDecoder(pretrained=str(path))
    loaded.init_weights()
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_checkpoint_errors_are_one_line_config_errors(ref, tmp_path):
    with pytest.raises(ConfigError, match='do not exist'):
        SamPromptDecoder(pretrained=str(tmp_path / 'missing.pth')).init_weights()
    only_encoder = tmp_path / 'encoder.pth'
    torch.save({'image_encoder.pos_embed': torch.zeros(1)}, only_encoder)
    with pytest.raises(ConfigError, match='no prompt_encoder'):
        SamPromptDecoder(pretrained=str(only_encoder)).init_weights()
    full = tmp_path / 'full.pth'
    torch.save({k: torch.zeros(s) for k, s in ref['official_keys'].items()}, full)
    with pytest.raises(ConfigError, match='do not fit') as err:
        SamPromptDecoder(pretrained=str(full), **DECODER_KW).init_weights()
    assert '\n' not in str(err.value)
    not_torch = tmp_path / 'text.pth'
    not_torch.write_text('not a checkpoint')
    with pytest.raises(ConfigError, match='SAM decoder weights'):
        SamPromptDecoder(pretrained=str(not_torch)).init_weights()
