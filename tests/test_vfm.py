"""VFMs by config string (DINO, DINOv2 with / without registers, MAE, SAM, any timm ViT)
on tiny random models, and CLIP towers ProxyCLIP can or cannot use."""
import pytest
import torch
from mmengine.registry import init_default_scope

import langseg  # noqa: F401
from langseg.models.backbones import VFM_PRESETS
from langseg.utils.errors import ConfigError
from mmseg.registry import MODELS

TINY_VIT = dict(depth=1, embed_dim=32, num_heads=2)


def build_vfm(**cfg):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return MODELS.build(dict(type='TimmVFM', pretrained=None, **cfg)).eval()


@pytest.mark.parametrize('name', ['dinov2-s14-reg', 'dinov2-b14-reg', 'dinov2-b14'])
def test_dinov2_vfm_drops_registers_and_matches_timm_at_its_grid(name):
    vfm = build_vfm(name=name, model_kwargs=dict(TINY_VIT, img_size=112))   # 8 x 8 grid
    model = vfm.model
    assert model.patch_embed.patch_size == (14, 14)
    assert model.num_prefix_tokens == (5 if name.endswith('-reg') else 1)
    rgb = torch.rand(2, 3, 112, 112) * 255
    with torch.no_grad():
        ours = vfm(rgb)
        x = (rgb - vfm.mean) / vfm.std
        ref = model.forward_intermediates(x, indices=1, norm=True, output_fmt='NCHW',
                                          intermediates_only=True)[-1]
    assert ours.shape == (2, 32, 8, 8)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        assert vfm(torch.rand(1, 3, 154, 98) * 255).shape == (1, 32, 11, 7)  # any size


def test_sam_vfm_resizes_to_its_size_and_returns_the_neck():
    vfm = build_vfm(name='sam-b', input_size=128,
                    model_kwargs=dict(TINY_VIT, img_size=128, global_attn_indexes=(0, )))
    with torch.no_grad():
        out = vfm(torch.rand(1, 3, 100, 150) * 255)
    assert out.shape == (1, 256, 8, 8)


def test_every_preset_names_a_timm_model_with_its_normalisation():
    import timm
    for name, preset in VFM_PRESETS.items():
        cfg = timm.models.get_pretrained_cfg(preset['model_name'])
        assert cfg is not None, name
        assert tuple(cfg.mean) == (0.485, 0.456, 0.406), name


def test_any_timm_vit_by_name_and_clear_errors():
    vfm = build_vfm(name=None, model_name='vit_tiny_patch16_224.augreg_in21k',
                    model_kwargs=dict(TINY_VIT))
    torch.testing.assert_close(vfm.mean.flatten() / 255, torch.tensor([0.5] * 3))
    assert vfm(torch.rand(1, 3, 64, 48) * 255).shape == (1, 32, 4, 3)
    with pytest.raises(ConfigError, match="unknown VFM 'dino-b9'"):
        build_vfm(name='dino-b9')
    with pytest.raises(ConfigError, match='cannot build timm model'):
        build_vfm(name=None, model_name='not_a_model')


def test_proxyclip_builds_with_a_dinov2_reg_vfm_from_a_config():
    init_default_scope('mmseg')
    model = MODELS.build(dict(
        type='ProxyCLIPSegmentor', class_names=['cat', 'dog'],
        clip=dict(arch='tiny-vit', pretrained=None, mean=[122.771, 116.746, 104.094],
                  std=[68.501, 66.632, 70.323]), templates='a photo of a {}.',
        vfm=dict(type='TimmVFM', name='dinov2-b14-reg', pretrained=None,
                 model_kwargs=dict(TINY_VIT, img_size=56)),
        slide_crop=56, slide_stride=56,
        data_preprocessor=dict(type='SegDataPreProcessor'))).eval()
    with torch.no_grad():
        out = model.predict(torch.randn(1, 3, 56, 112))[0]
    assert out.pred_sem_seg.data.shape == (1, 56, 112)


def test_clip_towers_without_a_usable_last_attention_are_refused():
    init_default_scope('mmseg')
    arch = dict(embed_dim=32, vision_cfg=dict(image_size=64, layers=2, width=32,
                                              patch_size=16, head_width=16,
                                              attentional_pool=True),
                text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2,
                              layers=1))
    with pytest.raises(ConfigError, match='attentional pooling'):
        MODELS.build(dict(type='ProxyCLIPSegmentor', class_names=['cat'],
                          clip=dict(arch=arch, pretrained=None), attention='maskclip',
                          templates='a {}'))
    with pytest.raises(ConfigError, match='needs a CLIP ViT'):
        MODELS.build(dict(type='ProxyCLIPSegmentor', class_names=['cat'],
                          clip=dict(arch='tiny-rn', pretrained=None), attention='maskclip',
                          templates='a {}'))


# Every timm ViT family a config or --vfm can name: built with small random weights and run.
TINY = dict(depth=1, embed_dim=32, num_heads=2)
FAMILIES = {
    'dino': ('vit_small_patch8_224.dino', dict(TINY), 'vit'),
    'dinov2': ('vit_small_patch14_dinov2.lvd142m', dict(TINY, img_size=70), 'vit'),
    'dinov2-reg': ('vit_small_patch14_reg4_dinov2.lvd142m', dict(TINY, img_size=70), 'vit'),
    'augreg': ('vit_base_patch16_224.augreg_in21k', dict(TINY), 'vit'),
    'sam': ('samvit_base_patch16', dict(TINY, img_size=64, global_attn_indexes=(0, ),
                                        neck_chans=16), 'sam'),
    'eva02': ('eva02_base_patch14_224', dict(TINY), 'eva'),
    'siglip': ('vit_base_patch16_siglip_224', dict(TINY), 'vit'),
    'clip-timm': ('vit_base_patch16_clip_224.openai', dict(TINY), 'vit'),
}


@pytest.mark.parametrize('family', list(FAMILIES))
def test_every_timm_vit_family_runs_by_name(family):
    model_name, kwargs, kind = FAMILIES[family]
    vfm = build_vfm(name=None, model_name=model_name, model_kwargs=kwargs)
    assert vfm.kind == kind
    with torch.no_grad():
        out = vfm(torch.rand(2, 3, 70, 56) * 255)
    patch = vfm.model.patch_embed.patch_size[0]
    if kind == 'sam':   # resized to its 64 px grid, the neck's channels
        assert out.shape == (2, 16, 64 // patch, 64 // patch)
    else:               # the patch grid of the input, prefix tokens dropped
        assert out.shape == (2, 32, 70 // patch, 56 // patch)
    assert torch.isfinite(out).all()
    # not the same map for two different images
    assert not torch.allclose(out[0], out[1])


@pytest.mark.parametrize('name', list(VFM_PRESETS))
def test_every_preset_runs_a_forward(name):
    kwargs = dict(TINY, global_attn_indexes=(0, ), img_size=128) if name.startswith('sam') \
        else dict(TINY)
    vfm = build_vfm(name=name, model_kwargs=kwargs,
                    **(dict(input_size=128) if name.startswith('sam') else {}))
    with torch.no_grad():
        out = vfm(torch.rand(1, 3, 64, 48) * 255)
    assert out.dim() == 4 and out.shape[0] == 1 and torch.isfinite(out).all()


def test_unsupported_timm_models_are_refused_when_built():
    with pytest.raises(ConfigError, match=r"'resnet18' \(ResNet\) is not a supported VFM: "
                                          r'expected a timm VisionTransformer .*SAM.*EVA-02'):
        build_vfm(name=None, model_name='resnet18')
    with pytest.raises(ConfigError, match="VFM kind 'vit' does not fit"):
        build_vfm(name=None, model_name='samvit_base_patch16', kind='vit',
                  model_kwargs=dict(TINY, img_size=64))
