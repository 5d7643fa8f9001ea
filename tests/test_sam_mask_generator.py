"""SAM's automatic mask generator (``SamMaskGenerator``,
langseg/models/backbones/sam_mask_generator.py) against the official
``SamAutomaticMaskGenerator`` (github.com/facebookresearch/segment-anything @dca509f) on
recorded outputs, hand-made cases of its steps, and CorrCLIP running with it.

tests/data/parity/sam_amg.pt was written by tools/parity/record_sam_amg.py: the official
generator on a tiny seeded decoder (its state dict stored) and a seeded image embedding fed
to the official predictor in place of ``set_image``, three cases (no NMS suppression with
an IoU filter; NMS; a portrait image with an IoU filter, a stability offset of 0.5 and
small-region removal)."""
import functools
import os.path as osp

import numpy as np
import pytest
import torch

import langseg  # noqa: F401  (registers the modules)
from langseg.models.backbones.sam_mask_generator import (SamMaskGenerator, masks_to_boxes,
                                                         point_grid, remove_small_regions,
                                                         stability_score)
from langseg.utils.errors import ConfigError

REFERENCE = osp.join(osp.dirname(__file__), 'data', 'parity', 'sam_amg.pt')
#: a tiny SAM image encoder (timm VisionTransformerSAM) with a 16-channel neck
TINY_ENCODER = dict(type='TimmVFM', name=None, model_name='samvit_base_patch16',
                    pretrained=None,
                    model_kwargs=dict(img_size=128, depth=1, embed_dim=32, num_heads=2,
                                      global_attn_indexes=(0, ), neck_chans=16))
TINY_DECODER = dict(type='SamPromptDecoder', embed_dim=16, mask_in_chans=8, depth=2,
                    num_heads=2, mlp_dim=32, iou_head_hidden_dim=16)


@functools.lru_cache(maxsize=1)
def reference() -> dict:
    return torch.load(REFERENCE, weights_only=True)


def reference_generator(ref: dict, kwargs: dict) -> SamMaskGenerator:
    enc = dict(TINY_ENCODER, model_kwargs=dict(TINY_ENCODER['model_kwargs'],
                                               img_size=ref['image_size']))
    gen = SamMaskGenerator(encoder=enc, decoder=dict(ref['decoder_kw']), **kwargs).eval()
    gen.decoder.load_state_dict(ref['state_dict'])
    return gen


# ----------------------------------------------------------- (a) official parity
@pytest.mark.parametrize('case', ['no_nms', 'landscape', 'portrait'])
def test_equals_the_official_automatic_mask_generator(case):
    ref = reference()
    rec = ref['cases'][case]
    h, w = rec['size']
    out = reference_generator(ref, rec['kwargs']).generate_from_embedding(
        ref['embedding'], (h, w))
    n = rec['count']
    assert n >= 5 and out.masks.shape == (n, h, w)
    masks = np.unpackbits(rec['masks_packed'].numpy())[:n * h * w].reshape(n, h, w)
    equal = (out.masks == torch.from_numpy(masks.astype(bool))).float().mean().item()
    assert equal >= 0.999, equal
    torch.testing.assert_close(out.iou_preds, rec['predicted_iou'], atol=1e-5, rtol=0)
    torch.testing.assert_close(out.stability_scores, rec['stability_score'], atol=1e-5,
                               rtol=0)
    xywh = out.boxes.clone()
    xywh[:, 2:] -= xywh[:, :2]
    assert torch.equal(xywh.float(), rec['bbox_xywh'].float())
    torch.testing.assert_close(out.points, rec['point_coords'], atol=1e-9, rtol=0)
    assert torch.equal(out.masks.flatten(1).sum(1), rec['area'])


def test_the_recorded_cases_exercise_each_filter():
    """The reference is not trivial: in every case the filters drop some of the 3 n^2
    masks, the NMS of the NMS cases suppresses some, and the small-region removal changes
    a mask."""
    ref = reference()
    for case, rec in ref['cases'].items():
        kw = dict(rec['kwargs'])
        no_nms = reference_generator(ref, dict(kw, box_nms_thresh=1.0,
                                               min_mask_region_area=0))
        filtered = no_nms.generate_from_embedding(ref['embedding'], rec['size'])
        assert 0 < filtered.masks.shape[0] < 3 * kw['points_per_side'] ** 2
        if kw['box_nms_thresh'] < 1.0:
            assert rec['count'] < filtered.masks.shape[0]
    rec = ref['cases']['portrait']
    plain = reference_generator(ref, dict(rec['kwargs'], min_mask_region_area=0))
    areas = plain.generate_from_embedding(ref['embedding'], rec['size']).masks.sum((1, 2))
    assert set(rec['area'].tolist()) != set(areas.tolist())


# ---------------------------------------------------------- (b) hand-made steps
def test_stability_score_by_hand():
    logits = torch.tensor([[3.0, 1.5, 0.5, -0.5],
                           [2.0, 1.0, -1.0, -2.0],
                           [0.2, -0.9, -1.1, -3.0]])
    # > 1: 3.0, 1.5, 2.0 (1.0 is not above): 3; > -1: all but -1.0, -1.1, -2.0, -3.0: 8
    assert stability_score(logits[None], 0.0, 1.0).item() == pytest.approx(3 / 8)
    # threshold 0.5, offset 0.5: > 1.0: 3 pixels; > 0.0: 3.0 1.5 0.5 2.0 1.0 0.2: 6
    assert stability_score(logits, 0.5, 0.5).item() == pytest.approx(3 / 6)
    assert torch.isnan(stability_score(torch.full((1, 2, 2), -5.0), 0.0, 1.0)).all()


def test_boxes_grid_and_small_regions_by_hand():
    masks = torch.zeros(2, 5, 6, dtype=torch.bool)
    masks[0, 1:4, 2] = True
    masks[0, 2, 4] = True
    assert masks_to_boxes(masks).tolist() == [[2, 1, 4, 3], [0, 0, 0, 0]]
    assert point_grid(2).tolist() == [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75],
                                      [0.75, 0.75]]
    mask = np.zeros((8, 8), bool)
    mask[1:6, 1:6] = True
    mask[3, 3] = False                       # a one-pixel hole
    mask[7, 7] = True                        # a one-pixel island
    filled, changed = remove_small_regions(mask, 2, 'holes')
    assert changed and filled[3, 3] and filled.sum() == 26
    cleaned, changed = remove_small_regions(filled, 2, 'islands')
    assert changed and not cleaned[7, 7] and cleaned.sum() == 25
    same, changed = remove_small_regions(cleaned, 2, 'islands')
    assert not changed and np.array_equal(same, cleaned)
    corner = np.zeros((6, 6), bool)          # 8-connected: one island of two pixels
    corner[0, 0] = corner[1, 1] = True
    corner[4, 4] = True
    kept, _ = remove_small_regions(corner, 5, 'islands')   # all small: the largest stays
    assert kept.sum() == 2 and kept[0, 0] and kept[1, 1]


def _fake_batches(gen, rows):
    """Make the generator's decoder step return hand-made masks (score, mask)."""
    def batch(embedding, points, image_hw):
        masks = torch.stack([m for _, m in rows])
        return dict(masks=masks, iou_preds=torch.tensor([s for s, _ in rows]),
                    stability_scores=torch.ones(len(rows)), boxes=masks_to_boxes(masks),
                    points=torch.zeros(len(rows), 2, dtype=torch.float64))
    gen._batch = batch


def test_box_nms_by_hand():
    """Box IoU above ``box_nms_thresh`` with a higher-scored mask suppresses a mask; the
    survivors come by score, highest first."""
    gen = SamMaskGenerator(encoder=TINY_ENCODER, decoder=TINY_DECODER, points_per_side=1)
    a = torch.zeros(20, 20, dtype=torch.bool)
    a[0:10, 0:10] = True                     # box (0, 0, 9, 9): area 81 (x1 - x0 ...)
    b = torch.zeros_like(a)
    b[0:10, 0:9] = True                      # box (0, 0, 8, 9): IoU with a 72 / 81
    c = torch.zeros_like(a)
    c[12:20, 12:20] = True                   # disjoint
    d = torch.zeros_like(a)
    d[0:10, 0:5] = True                      # box (0, 0, 4, 9): IoU with b 36 / 72
    _fake_batches(gen, [(0.8, a), (0.85, b), (0.95, c), (0.7, d)])
    out = gen.generate_from_embedding(torch.zeros(1), (20, 20))
    assert out.iou_preds.tolist() == pytest.approx([0.95, 0.85, 0.7])   # a suppressed by b
    assert torch.equal(out.masks, torch.stack([c, b, d]))
    gen.box_nms_thresh = 0.4                 # now d goes too (IoU 0.5 with b)
    assert gen.generate_from_embedding(torch.zeros(1), (20, 20)).iou_preds.tolist() == \
        pytest.approx([0.95, 0.85])


def test_small_region_removal_prefers_unchanged_masks():
    """After removing small regions, NMS scores unchanged masks 1 and changed ones 0."""
    gen = SamMaskGenerator(encoder=TINY_ENCODER, decoder=TINY_DECODER, points_per_side=1,
                           min_mask_region_area=3)
    a = torch.zeros(12, 12, dtype=torch.bool)
    a[0:6, 0:6] = True
    a[11, 11] = True                         # a small island: a changes, box (0, 0, 5, 5)
    b = torch.zeros_like(a)
    b[0:6, 0:5] = True                       # unchanged, box (0, 0, 4, 5): IoU 20 / 25
    # first NMS (0.7): a's box (0, 0, 11, 11) and b's overlap 20 / 121: both kept
    _fake_batches(gen, [(0.9, a), (0.5, b)])
    out = gen.generate_from_embedding(torch.zeros(1), (12, 12))
    assert out.iou_preds.tolist() == pytest.approx([0.5]) and torch.equal(out.masks[0], b)


def test_refusals():
    with pytest.raises(ConfigError, match='crop_n_layers'):
        SamMaskGenerator(encoder=TINY_ENCODER, decoder=TINY_DECODER, crop_n_layers=1)
    with pytest.raises(ConfigError, match='image_size'):
        SamMaskGenerator(encoder=TINY_ENCODER, decoder=dict(TINY_DECODER, image_size=64))
    with pytest.raises(ConfigError, match='embed_dim'):
        SamMaskGenerator(encoder=TINY_ENCODER, decoder=dict(TINY_DECODER, embed_dim=32))
    with pytest.raises(ConfigError, match='SAM image encoder'):
        SamMaskGenerator(encoder=dict(type='TimmVFM', name=None, pretrained=None,
                                      model_name='vit_small_patch8_224.dino',
                                      model_kwargs=dict(depth=1, embed_dim=32,
                                                        num_heads=2)),
                         decoder=TINY_DECODER)


def test_image_to_masks_through_the_encoder():
    """``generate(image)``: the image resized to the encoder's input (long side), padded,
    encoded; masks at the image's size, the same as decoding the embedding of ``embed``."""
    torch.manual_seed(0)
    gen = SamMaskGenerator(encoder=TINY_ENCODER, decoder=TINY_DECODER, points_per_side=4,
                           pred_iou_thresh=0.0, stability_score_thresh=0.0).eval()
    image = torch.rand(3, 48, 40) * 255
    embedding = gen.embed(image)
    assert embedding.shape == (1, 16, 8, 8)
    out = gen.generate(image)
    assert out.masks.dtype == torch.bool and out.masks.shape[1:] == (48, 40)
    again = gen.generate_from_embedding(embedding, (48, 40))
    assert torch.equal(out.masks, again.masks) and out.masks.shape[0] >= 1
    assert torch.equal(gen(image, {}), out.masks)


# -------------------------------------------------------------- (c) in CorrCLIP
#: the CorrCLIP-SAM config's model on tiny random towers (merged into the shipped config)
TINY_CORRCLIP_SAM = dict(model=dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None,
             model_name='vit_small_patch8_224.dino', pretrained=None,
             model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    mask_generator=dict(encoder=dict(_delete_=True, **TINY_ENCODER),
                        decoder=dict(_delete_=True, **TINY_DECODER),
                        points_per_side=4, pred_iou_thresh=0.0,
                        stability_score_thresh=0.0),
    templates='a photo of a {}.', slide_crop=48, slide_stride=32))


def test_corrclip_config_with_the_sam_generator_builds_and_segments():
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.structures import SegDataSample
    from langseg.engine.config import strip_pretrained_weights
    from langseg.registry import MODELS
    cfg = Config.fromfile(osp.join(osp.dirname(osp.dirname(__file__)), 'configs',
                                   'corrclip', 'corrclip-sam_vit-b16_voc21.py'))
    gen_cfg = cfg.model.mask_generator
    assert gen_cfg.type == 'SamMaskGenerator' and gen_cfg.encoder.name == 'sam-b'
    # CorrCLIPv1/corrclip_segmentor.py:266-272 (its on-the-fly generator's arguments)
    assert (gen_cfg.points_per_side, gen_cfg.pred_iou_thresh,
            gen_cfg.stability_score_thresh, gen_cfg.multimask_output) == (8, 0.4, 0.4, False)
    init_default_scope('mmseg')
    cfg.merge_from_dict(TINY_CORRCLIP_SAM)
    model_cfg = strip_pretrained_weights(cfg.model.to_dict())
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).eval()
    assert type(model.mask_generator).__name__ == 'SamMaskGenerator'
    inputs = torch.rand(1, 3, 56, 72) * 255
    meta = dict(img_shape=(56, 72), ori_shape=(70, 90))
    with torch.no_grad():
        region = model.region_map(inputs[0], meta)
        out = model.predict(inputs, [SegDataSample(metainfo=meta)])[0]
    assert region.shape == (56, 72) and int(region.max()) >= 1
    assert out.pred_sem_seg.data.shape == (1, 70, 90)
    assert torch.isfinite(out.seg_logits.data).all()


def test_generator_weights_alone_load_at_first_use(tmp_path):
    """A CorrCLIP config whose only named weights are the SAM generator's decoder file
    (random CLIP and VFM) loads that file at the first prediction, as the towers' weights
    are (``CLIPDenseSegmentor._ensure_weights``), built the way the tools build it."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.structures import SegDataSample
    from langseg.engine.config import strip_pretrained_weights
    from langseg.registry import MODELS
    decoder = MODELS.build(dict(TINY_DECODER))
    with torch.no_grad():
        for p in decoder.parameters():
            p.add_(1.0)                                      # differs from a fresh build
    weights = tmp_path / 'sam_tiny.pth'
    torch.save(decoder.state_dict(), weights)
    cfg = Config.fromfile(osp.join(osp.dirname(osp.dirname(__file__)), 'configs',
                                   'corrclip', 'corrclip-sam_vit-b16_voc21.py'))
    cfg.merge_from_dict(TINY_CORRCLIP_SAM)
    model_cfg = strip_pretrained_weights(cfg.model.to_dict())
    model_cfg['mask_generator']['decoder']['pretrained'] = str(weights)
    init_default_scope('mmseg')
    model = MODELS.build(model_cfg).eval()
    loaded = model.mask_generator.decoder.state_dict()
    key = next(iter(loaded))
    assert not torch.equal(loaded[key], decoder.state_dict()[key])
    meta = dict(img_shape=(56, 72), ori_shape=(56, 72))
    with torch.no_grad():
        model.predict(torch.rand(1, 3, 56, 72) * 255, [SegDataSample(metainfo=meta)])
    for name, value in decoder.state_dict().items():
        assert torch.equal(model.mask_generator.decoder.state_dict()[name], value), name
