"""CorrCLIP's eight benchmark configs (configs/corrclip/) as the official runs
(github.com/zdk258/CorrCLIP @103bc18, CorrCLIPv1/configs/cfg_*.py and the defaults of
``CorrCLIPSegmentation``): the official class-name files byte for byte, the official
settings, and each config builds and segments with tiny random towers.

The official class-name files differ from ProxyCLIP's (``cls_*.txt``; e.g. VOC21's
``people`` for ``person``, COCO-Object's background line without ``bed``), so they ship as
``langseg/utils/vocabularies/corrclip_*.txt``; the sha256 below were computed from the
official repository's files when they were copied."""
import hashlib
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from .conftest import REPO

VOCAB_DIR = osp.join(REPO, 'langseg', 'utils', 'vocabularies')

#: sha256 of the official CorrCLIPv1/configs/cls_*.txt (shipped as corrclip_*.txt).
OFFICIAL_SHA256 = {
    'corrclip_ade20k.txt': '09ac710c57fc65910822a955574d054d166e002f3555dde6c824a43585f68d70',
    'corrclip_city_scapes.txt':
        '8dba4f1e3eeefc376b15dd566ab11867bf6572b209b8de2d18a108142f8d2c23',
    'corrclip_coco_object.txt':
        '6d0d48b0979836237bee4bb1e91be677cbb704a379d9d09440e658fd92c50100',
    'corrclip_coco_stuff.txt':
        'c39fe2dd982fa5daa287e4da14788c30906e661787e890fc800c9fed94090a72',
    'corrclip_context59.txt':
        '106c0f1f2c9c4fac51513ed97f3a524c049a377a8976acd7fabc914181d73a85',
    'corrclip_context60.txt':
        '5666dc439704e29a20bf02782bb60a6d568d2e8af4e06788dfc891189862282d',
    'corrclip_voc20.txt': 'dd9755431039265bf4de125628ff867ee708fe48ea8e98de4f8793093f1231d6',
    'corrclip_voc21.txt': '9ea46c7f208472559b54660bf8715b3ce2f7801eefe9adbae517e7f340e5e768',
}

#: bench -> (class file, mask folder, prob_thd, short side, crop, stride, published mIoU)
#: (cfg_*.py: name_path, instance_mask_path, prob_thd, Resize, slide_crop/stride; README
#: results table, SAM2_32 ViT-B row)
OFFICIAL = {
    'voc21': ('corrclip_voc21.txt', 'voc', 0.2, 336, 336, 112, 74.8),
    'context60': ('corrclip_context60.txt', 'context', 0.15, 336, 336, 112, 44.2),
    'coco-object': ('corrclip_coco_object.txt', 'coco', 0.25, 336, 336, 112, 43.7),
    'voc20': ('corrclip_voc20.txt', 'voc', 0.0, 336, 336, 112, 88.8),
    'context59': ('corrclip_context59.txt', 'context', 0.0, 336, 336, 112, 48.8),
    'coco-stuff': ('corrclip_coco_stuff.txt', 'coco', 0.0, 336, 336, 112, 31.6),
    'cityscapes': ('corrclip_city_scapes.txt', 'city', 0.0, 448, 224, 112, 49.4),
    'ade20k': ('corrclip_ade20k.txt', 'ade', 0.0, 448, 336, 112, 26.9),
}

TINY_MODEL = dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None, model_name='vit_small_patch8_224.dino',
             pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    templates='a photo of a {}.', slide_crop=48, slide_stride=32)


def config_path(bench: str) -> str:
    return osp.join(REPO, 'configs', 'corrclip', f'corrclip_vit-b16_{bench}.py')


def test_shipped_class_names_are_the_official_bytes():
    for name, digest in OFFICIAL_SHA256.items():
        with open(osp.join(VOCAB_DIR, name), 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name


@pytest.mark.parametrize('bench', sorted(OFFICIAL))
def test_config_has_the_official_settings(bench):
    names, folder, thd, short, crop, stride, published = OFFICIAL[bench]
    cfg = Config.fromfile(config_path(bench))
    m = cfg.model
    assert m.type == 'CorrCLIPSegmentor' and m.class_names == names
    assert m.mask_generator == dict(type='PrecomputedMaskGenerator',
                                    folder=f'data/region_masks/{folder}')
    assert (m.prob_thd, m.slide_crop, m.slide_stride) == (thd, crop, stride)
    assert (m.logit_scale, m.pad_multiple, m.tau, m.merge_eps) == (40.0, 56, 4.0, 0.2)
    assert (m.spatial_weight, m.semantic_weight, m.map_correction) == (1.0, 0.5, True)
    assert m.clip.arch == 'ViT-B-16-quickgelu' and m.clip.pretrained == 'metaclip_fullcc'
    assert m.vfm.name == 'dino-b8' and m.templates == 'openai_imagenet'
    resize = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'Resize']
    assert resize[0].scale == (2048, short) and resize[0].keep_ratio
    card = cfg.protocol
    assert card.dataset == bench and card.published_miou == published
    assert card.needs_checkpoint is False and 'arXiv:2411.10086' in card.source


@pytest.mark.parametrize('bench', sorted(OFFICIAL))
def test_config_builds_and_segments_with_tiny_towers(bench):
    import langseg  # noqa: F401  (registers the modules)
    from mmengine.registry import init_default_scope
    from mmseg.structures import SegDataSample
    from langseg.registry import MODELS
    cfg = Config.fromfile(config_path(bench))
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    cfg.merge_from_dict(dict(model=TINY_MODEL))
    cfg.model.mask_generator = dict(type='SuperpixelMaskGenerator', n_segments=6)
    model = MODELS.build(cfg.model).eval()
    assert model.class_names[0] and len(model.class_names) == {
        'voc21': 21, 'context60': 60, 'coco-object': 81, 'voc20': 20, 'context59': 59,
        'coco-stuff': 171, 'cityscapes': 19, 'ade20k': 150}[bench]
    torch.manual_seed(0)
    inputs = torch.zeros(2, 3, 64, 80)
    inputs[:, :, :32] = 200   # two flat halves: the superpixels find regions
    inputs += torch.rand_like(inputs) * 20
    samples = [SegDataSample(metainfo=dict(img_shape=(64, 80), ori_shape=(64, 80))),
               SegDataSample(metainfo=dict(img_shape=(56, 72), ori_shape=(70, 90)))]
    with torch.no_grad():
        out = model.predict(inputs, samples)
    assert out[0].pred_sem_seg.data.shape == (1, 64, 80)
    assert out[1].pred_sem_seg.data.shape == (1, 70, 90)
    assert out[1].seg_logits.data.shape[0] == len(model.class_names)
    assert torch.isfinite(out[0].seg_logits.data).all()


def test_precomputed_masks_end_to_end_with_flip_and_tensor_mode(tmp_path):
    """The configs' generator (the official pre-generated masks, one ``<stem>.npz`` an
    image) through ``predict``: a region map that covers the whole image sets one label
    per region (the map correction); a flipped input (test-time flip) flips the stored map;
    ``mode='tensor'`` (the FLOPs tool's graph) runs one window with no regions."""
    import numpy as np
    import langseg  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmseg.structures import SegDataSample
    from langseg.registry import MODELS
    cfg = Config.fromfile(config_path('voc21'))
    init_default_scope('mmseg')
    cfg.merge_from_dict(dict(model=TINY_MODEL))
    cfg.model.mask_generator.folder = str(tmp_path)
    model = MODELS.build(cfg.model).eval()
    region = np.zeros((70, 90), np.int64)
    region[:, 30:] = 1
    region[40:, 60:] = 2
    np.savez(tmp_path / '2007_000033.npz', instance_mask=region)
    meta = dict(img_shape=(56, 72), ori_shape=(70, 90), img_path='JPEGImages/2007_000033.jpg')
    torch.manual_seed(0)
    inputs = torch.rand(1, 3, 56, 72) * 255
    with torch.no_grad():
        out = model.predict(inputs, [SegDataSample(metainfo=meta)])[0]
        flipped = model.region_map(inputs[0], dict(meta, flip=True,
                                                   flip_direction='horizontal'))
        logits = model(inputs[:, :, :56, :56], mode='tensor')
    labels = out.pred_sem_seg.data[0]
    for v in (1, 2):   # the segmented regions: one label each
        assert labels[torch.from_numpy(region == v)].unique().numel() == 1
    assert torch.equal(flipped, torch.from_numpy(region).flip(-1).int())
    assert logits.shape == (1, 21 + 25, 56, 56)   # VOC21's queries (background synonyms)
