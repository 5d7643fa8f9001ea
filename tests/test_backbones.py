"""Dense CLIP backbones and the timm wrapper against open_clip / timm and the formulas."""
import math

import pytest
import timm
import torch


import langseg  # noqa: F401
from langseg.models.backbones import CLIPResNet, CLIPViT, TimmFeatureBackbone
from langseg.models.layers import DenseAttentionPool2d, resize_grid_pos_embed
from langseg.utils.errors import CheckpointError, ConfigError

from .test_clip import random_clip


def _load_visual(backbone, model):
    state = {k[7:]: v for k, v in model.state_dict().items() if k.startswith('visual.')}
    if getattr(backbone.visual, 'proj', 1) is None:
        state = {k: v for k, v in state.items() if not k.startswith(('ln_post', 'proj'))}
    missing, unexpected = backbone.visual.load_state_dict(state, strict=False)
    assert not missing and not unexpected
    return backbone.eval()


@pytest.mark.slow
def test_rn50_dense_pool_global_equals_open_clip_attnpool():
    model = random_clip('RN50')
    backbone = _load_visual(CLIPResNet('RN50'), model)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        ours_global, ours_dense = backbone(x).embeddings
        theirs = model.visual(x)  # stem, layers, attention pool (query = mean token)
    assert ours_dense.shape == (2, 1024, 7, 7)
    torch.testing.assert_close(ours_global, theirs, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        for size, grid in (((512, 512), (16, 16)), ((640, 480), (20, 15))):
            outs = backbone(torch.randn(1, 3, *size))
            assert [o.shape[-2:] for o in outs.maps] == [
                (grid[0] * 8 // s, grid[1] * 8 // s) for s in (1, 2, 4, 8)]
            assert outs.embeddings.global_emb.shape == (1, 1024)
            assert outs.embeddings.dense.shape == (1, 1024, *grid)


def test_tiny_rn_global_equals_open_clip():
    model = random_clip('tiny-rn')
    backbone = _load_visual(CLIPResNet('tiny-rn'), model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(backbone(x).embeddings.global_emb, model.visual(x), atol=1e-5, rtol=1e-5)


def test_dense_pool_matches_per_query_formula():
    """Each output token = c_proj(MHA(q_i, K, V)) over [mean; pixels] + resized positions."""
    torch.manual_seed(0)
    pool = DenseAttentionPool2d(spacial_dim=3, embed_dim=8, num_heads=2, output_dim=6).eval()
    x = torch.randn(1, 8, 4, 5)
    g, dense = pool(x)
    tokens = x.flatten(2)[0].T                                     # 20 x 8
    tokens = torch.cat([tokens.mean(0, keepdim=True), tokens])     # 21 x 8
    tokens = tokens + resize_grid_pos_embed(pool.positional_embedding, (3, 3), (4, 5),
                                            interp='bilinear')
    q, k, v = pool.q_proj(tokens), pool.k_proj(tokens), pool.v_proj(tokens)
    outs = []
    for i in range(21):
        heads = []
        for h in range(2):
            sl = slice(4 * h, 4 * h + 4)
            att = torch.softmax(q[i, sl] @ k[:, sl].T / math.sqrt(4), dim=-1)
            heads.append(att @ v[:, sl])
        outs.append(pool.c_proj(torch.cat(heads)))
    ref = torch.stack(outs)
    torch.testing.assert_close(g[0], ref[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(dense[0].flatten(1).T, ref[1:], atol=1e-5, rtol=1e-5)


def test_value_mode_pool_is_maskclip_value_path_with_clip_global():
    """dense_mode='value' (CLIP-SP): pixel i -> c_proj(v_proj(x_i + pos_i)); the global
    token is still CLIP's single-query pooling (computed in reassociated form)."""
    torch.manual_seed(0)
    full = DenseAttentionPool2d(spacial_dim=3, embed_dim=8, num_heads=2, output_dim=6).double()
    for linear in (full.q_proj, full.k_proj, full.v_proj, full.c_proj):
        torch.nn.init.normal_(linear.bias)
    value = DenseAttentionPool2d(3, 8, 2, 6, dense_mode='value').double()
    value.load_state_dict(full.state_dict())
    x = torch.randn(2, 8, 4, 5, dtype=torch.float64)
    g_full, _ = full(x)
    g_value, dense = value(x)
    torch.testing.assert_close(g_value, g_full, atol=1e-10, rtol=1e-10)
    pos = resize_grid_pos_embed(value.positional_embedding, (3, 3), (4, 5),
                                interp='bilinear')[1:]
    ref = value.c_proj(value.v_proj(x.flatten(2).transpose(1, 2) + pos))    # B, 20, 6
    torch.testing.assert_close(dense.flatten(2).transpose(1, 2), ref)
    with pytest.raises(ConfigError, match='dense_mode'):
        DenseAttentionPool2d(3, 8, 2, dense_mode='keys')


def test_tiny_rn_value_mode_global_equals_open_clip():
    model = random_clip('tiny-rn')
    backbone = _load_visual(CLIPResNet('tiny-rn', dense_mode='value'), model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(backbone(x).embeddings.global_emb, model.visual(x), atol=1e-5, rtol=1e-5)


def test_vit_global_equals_open_clip_and_any_size_works():
    model = random_clip('tiny-vit')
    backbone = _load_visual(CLIPViT('tiny-vit', input_resolution=64,
                                    out_indices=(0, 1, 2, 3)), model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        outs = backbone(x)
        torch.testing.assert_close(outs.embeddings.global_emb, model.visual(x), atol=1e-5,
                                   rtol=1e-5)
        outs = backbone(torch.randn(1, 3, 96, 48))  # grid 6x3, positions resized
    assert [tuple(o.shape[-2:]) for o in outs.maps] == [(24, 12), (12, 6), (6, 3), (3, 1)]
    assert outs.embeddings.dense.shape == (1, 32, 6, 3)


def test_vit_positions_stored_for_input_resolution_and_resized_on_load(tmp_path):
    model = random_clip('tiny-vit')  # 64 px: 4x4 grid
    path = str(tmp_path / 'v.pt')
    torch.save(model.state_dict(), path)
    backbone = CLIPViT('tiny-vit', pretrained=path, input_resolution=128,
                       out_indices=(0, 1, 2, 3))
    assert backbone.visual.positional_embedding.shape == (1 + 8 * 8, 32)
    backbone.init_weights()
    expected = resize_grid_pos_embed(model.visual.positional_embedding.detach(), (4, 4), (8, 8),
                                     interp='bilinear')
    torch.testing.assert_close(backbone.visual.positional_embedding.detach(), expected)


def test_vit_drop_path_only_in_training():
    backbone = CLIPViT('tiny-vit', input_resolution=64, out_indices=(0, 1, 2, 3),
                       drop_path_rate=0.5, norm_cfg=dict(type='BN'))
    x = torch.randn(4, 3, 64, 64)
    backbone.eval()
    with torch.no_grad():
        a, b = backbone(x).embeddings.global_emb, backbone(x).embeddings.global_emb
    torch.testing.assert_close(a, b)
    backbone.train()
    torch.manual_seed(0)
    with torch.no_grad():
        c = backbone(x).embeddings.global_emb
    assert not torch.allclose(a, c)


def test_norm_eval_keeps_bn_statistics():
    backbone = CLIPResNet('tiny-rn', norm_eval=True, norm_trainable=False).train()
    bn = backbone.visual.bn1
    before = bn.running_mean.clone()
    backbone(torch.randn(2, 3, 64, 64))
    torch.testing.assert_close(bn.running_mean, before)
    assert not bn.weight.requires_grad and not bn.training


def test_timm_wrapper_loads_a_classifier_file(tmp_path):
    torch.manual_seed(0)
    classifier = timm.create_model('efficientformerv2_s0', img_size=64)
    path = str(tmp_path / 'effv2.pth')
    torch.save(classifier.state_dict(), path)
    backbone = TimmFeatureBackbone('efficientformerv2_s0', pretrained=path, img_size=64)
    backbone.init_weights()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        theirs = classifier.eval().forward_intermediates(x, intermediates_only=True)
        ours = backbone.eval()(x)
    assert len(ours) == 4
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)
    assert 'head.weight' in backbone.pruned_keys
    assert 'head.weight' not in backbone.model.state_dict()
    assert backbone.out_channels == [32, 48, 96, 176] and backbone.strides == [4, 8, 16, 32]
    wrong = str(tmp_path / 'wrong.pth')
    torch.save(timm.create_model('mobilenetv2_050').state_dict(), wrong)
    with pytest.raises(CheckpointError, match='do not fit efficientformerv2_s0'):
        TimmFeatureBackbone('efficientformerv2_s0', pretrained=wrong, img_size=64).init_weights()


def test_timm_unknown_model():
    with pytest.raises(ConfigError, match='closest'):
        TimmFeatureBackbone('xceptoin65')


def test_resize_grid_pos_embed_identity_and_shapes():
    pos = torch.randn(1 + 16, 8)
    assert resize_grid_pos_embed(pos, (4, 4), (4, 4)) is pos
    out = resize_grid_pos_embed(pos, (4, 4), (6, 2))
    assert out.shape == (13, 8) and torch.equal(out[0], pos[0])
    with pytest.raises(ValueError):
        resize_grid_pos_embed(pos, (3, 3), (4, 4))

