"""DenseCLIP: learnable-context text encoder, context decoder, score map, identity loss,
optimiser groups, and the FLOPs/params of the published table."""
import json
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from open_clip.tokenizer import SimpleTokenizer

import langseg  # noqa: F401
from langseg.models.heads import ScoreMapIdentityHead
from langseg.models.backbones import BackboneOutput, Embeddings
from langseg.utils.errors import ConfigError
from langseg.methods.denseclip import (ContextDecoder, DenseCLIPFusion,
                                       LearnableContextTextEncoder)
from mmseg.registry import MODELS

from .conftest import REPO, run_tool

torch.manual_seed(0)
CONTEXT_WORDS = ['a', 'photo', 'of', 'the', 'big', 'small', 'red', 'dog']


def test_context_encoder_equals_open_clip_on_the_spelled_out_prompt():
    """With the contexts set to the embeddings of 8 real tokens, the encoder must give
    open_clip's text embedding of the prompt spelled with those tokens: the truncated
    positions and the 13x13 causal mask change nothing before the EOT token."""
    names = ['cat', 'traffic light', 'sky']
    enc = LearnableContextTextEncoder('tiny-text', class_names=names).eval()
    tok = SimpleTokenizer()
    ids = [tok.encode(w) for w in CONTEXT_WORDS]
    assert all(len(i) == 1 for i in ids)
    with torch.no_grad():
        enc.contexts.copy_(enc.text.token_embedding.weight[[i[0] for i in ids]][None])
        ours = enc.forward_uncached()
        reference = enc.text(tok([' '.join(CONTEXT_WORDS + [n]) for n in names]))
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    assert enc.name_tokens.shape == (3, 5)  # SOT, <= 3 name tokens, EOT


def test_gradients_reach_the_contexts_and_not_the_text_weights():
    enc = LearnableContextTextEncoder('tiny-text', class_names=['cat', 'dog']).train()
    enc().pow(2).sum().backward()
    assert enc.contexts.grad is not None and enc.contexts.grad.abs().sum() > 0
    for name, p in enc.text.named_parameters():
        assert not p.requires_grad and p.grad is None, name
    assert enc.contexts.shape == (1, 8, 48)
    assert enc.contexts.abs().max() <= 2.0  # truncated normal in [-2, 2]


def test_context_embeddings_are_cached_in_eval_until_the_contexts_change():
    enc = LearnableContextTextEncoder('tiny-text', class_names=['cat', 'dog']).eval()
    calls = []
    enc.text.transformer.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        first = enc()
        enc()
        assert len(calls) == 1
        enc.contexts.add_(torch.randn_like(enc.contexts))  # an optimiser step
        second = enc()
    assert len(calls) == 2 and not torch.allclose(first, second)
    enc.train()
    enc()
    enc()
    assert len(calls) == 4  # training: recomputed (the contexts learn)


def test_synonyms_are_refused_with_learnable_contexts():
    with pytest.raises(ConfigError, match='synonyms'):
        LearnableContextTextEncoder('tiny-text', class_names=['car; automobile'])


def test_context_decoder_matches_the_reference_structure():
    dec = ContextDecoder(visual_dim=64)
    assert len(dec.layers) == 3
    layer = dec.layers[0]
    assert layer.self_attn.num_heads == 4 and layer.self_attn.dim == 256
    assert layer.self_attn.q_proj.bias is None and layer.cross_attn.k_proj.bias is None
    assert layer.mlp[0].out_features == 1024
    assert layer.self_attn.proj_drop.p == 0.1
    fusion = DenseCLIPFusion([8, 16, 32, 64], text_dim=64, num_classes=3)
    assert torch.all(fusion.gamma == 1e-4) and fusion.gamma.shape == (64, )
    assert fusion.neck_in_channels() == [8, 16, 32, 67]


def reference_denseclip_fusion(sd: dict, global_emb, dense, text, heads: int,
                               num_layers: int, eps: float = 1e-5):
    """DenseCLIP's post-model vision-to-language prompting and score map (Rao et al.,
    arXiv:2112.01518, Sec. 3.2-3.3, Eq. 4 and 6), written with torch.nn.functional and
    explicit matmuls on the weights ``sd`` of a module (eval mode: no dropout):

    v = [z_global; z_1 .. z_HW] (B, 1+HW, C); memory = LN(W_m LN(v)); x = W_t LN(t)
    per layer (pre-norm, no qkv bias):  x <- x + MHA(LN1 x, LN1 x, LN1 x)
                                       x <- x + MHA(LN2 x, memory, memory)
                                       x <- x + W_2 GELU(W_1 LN3 x)
    v_post = W_o LN(x); t <- t + gamma * v_post (Eq. 6)
    s = normalize(z) . normalize(t)^T over the channels (Eq. 4)."""
    def lin(x, key):
        return F.linear(x, sd[key + '.weight'], sd.get(key + '.bias'))

    def ln(x, key):
        return F.layer_norm(x, (x.shape[-1], ), sd[key + '.weight'], sd[key + '.bias'], eps)

    def mha(q_in, kv_in, key):
        q, k, v = (lin(x, f'{key}.{n}_proj') for x, n in ((q_in, 'q'), (kv_in, 'k'),
                                                          (kv_in, 'v')))
        b, nq, c = q.shape
        d = c // heads
        split = [x.reshape(b, x.shape[1], heads, d).permute(0, 2, 1, 3) for x in (q, k, v)]
        w = torch.softmax(torch.matmul(split[0], split[1].transpose(-1, -2)) / math.sqrt(d),
                          dim=-1)
        out = torch.matmul(w, split[2]).permute(0, 2, 1, 3).reshape(b, nq, c)
        return lin(out, f'{key}.out_proj')

    p = 'context_decoder.'
    b, c, h, w = dense.shape
    visual = torch.cat([global_emb[:, None, :], dense.flatten(2).transpose(1, 2)], 1)
    memory = ln(lin(ln(visual, p + 'memory_proj.0'), p + 'memory_proj.1'), p + 'memory_proj.2')
    t = text.unsqueeze(0).repeat(b, 1, 1)
    x = lin(ln(t, p + 'text_proj.0'), p + 'text_proj.1')
    for n in range(num_layers):
        q = f'{p}layers.{n}.'
        y = ln(x, q + 'norm1')
        x = x + mha(y, y, q + 'self_attn')
        x = x + mha(ln(x, q + 'norm2'), memory, q + 'cross_attn')
        x = x + lin(F.gelu(lin(ln(x, q + 'norm3'), q + 'mlp.0')), q + 'mlp.3')
    v_post = lin(ln(x, p + 'out_proj.0'), p + 'out_proj.1')
    t = t + sd['gamma'] * v_post
    z_hat = dense / dense.norm(dim=1, keepdim=True)
    t_hat = t / t.norm(dim=2, keepdim=True)
    score = torch.matmul(t_hat, z_hat.flatten(2)).reshape(b, -1, h, w)
    return score, t


def test_fusion_equals_the_papers_equations_written_independently():
    layers, heads = 2, 4
    fusion = DenseCLIPFusion([8, 16, 32, 64], text_dim=24, num_classes=3,
                             context_decoder=dict(width=32, num_heads=heads,
                                                  num_layers=layers)).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():   # every weight random: no identity LayerNorm, a real gamma
        for name, t in fusion.state_dict().items():
            t.copy_((1.0 if name.endswith('norm1.weight') else 0.0)
                    + 0.3 * torch.randn(t.shape, generator=gen))
    fusion.double()          # float64 on both sides: 1e-5 then measures the maths
    kw = dict(generator=gen, dtype=torch.float64)
    feats = [torch.randn(2, c, s, s + 1, **kw) for c, s in zip([8, 16, 32, 64], [16, 8, 4, 2])]
    global_emb, dense = torch.randn(2, 24, **kw), torch.randn(2, 24, 2, 3, **kw)
    text = torch.randn(3, 24, **kw)
    with torch.no_grad():
        out = fusion(BackboneOutput(tuple(feats), Embeddings(global_emb, dense)), text)
        ref, ref_text = reference_denseclip_fusion(fusion.state_dict(), global_emb, dense,
                                                   text, heads, layers)
    # the context decoder really moved the text (gamma * v_post is not negligible)
    assert (ref_text - text).abs().max() > 0.1
    torch.testing.assert_close(out.score, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.maps[3], torch.cat([feats[3], ref], 1), atol=1e-5,
                               rtol=1e-5)
    for a, b in zip(out.maps[:3], feats[:3]):
        assert a is b
    assert out.score.abs().max() <= 1 + 1e-6


def test_random_attention_pool_for_backbones_without_embeddings():
    fusion = DenseCLIPFusion([8, 16, 32, 64], text_dim=24, num_classes=3,
                             pool=dict(num_heads=4, spacial_dim=2))
    feats = [torch.randn(1, c, s, s) for c, s in zip([8, 16, 32, 64], [16, 8, 4, 2])]
    out = fusion(BackboneOutput(tuple(feats)), torch.randn(3, 24))
    maps, score = out.maps, out.score
    assert score.shape == (1, 3, 2, 2) and maps[3].shape[1] == 67
    with pytest.raises(ConfigError, match='no \\(global, dense\\) embeddings'):
        DenseCLIPFusion([8], text_dim=24, num_classes=3, score_level=0)(
            BackboneOutput((torch.randn(1, 8, 2, 2), )), torch.randn(3, 24))


def test_identity_loss_is_cross_entropy_of_scores_over_tau():
    init_default_scope('mmseg')
    head = ScoreMapIdentityHead(num_classes=3, tau=0.07, loss_decode=dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4))
    assert sum(p.numel() for p in head.parameters()) == 0
    score = torch.tensor([[[[0.9, -0.2], [0.1, 0.3]],
                           [[0.1, 0.8], [0.2, 0.3]],
                           [[-0.5, 0.0], [0.7, 0.1]]]])            # 1 x 3 x 2 x 2
    labels = torch.tensor([[[0, 1], [2, 255]]])                      # one ignored pixel
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=labels)
    sample.set_metainfo(dict(img_shape=(2, 2), pad_shape=(2, 2)))
    loss = head.loss_by_feat(head.forward(score), [sample])['loss_ce']
    # by hand: per-pixel CE of S / 0.07, the ignored pixel contributing 0, averaged over
    # all 4 pixels (mmseg's default reduction, as DenseCLIP's mmseg 0.x), times 0.4
    logits = score / 0.07
    per_pixel = [-torch.log_softmax(logits[0, :, i, j], 0)[c]
                 for (i, j), c in [((0, 0), 0), ((0, 1), 1), ((1, 0), 2)]]
    expected = 0.4 * torch.stack(per_pixel).sum() / 4
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(
        loss, 0.4 * F.cross_entropy(logits, labels, ignore_index=255, reduction='sum') / 4)


def test_param_groups_contexts_at_base_lr_backbone_at_one_tenth():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'denseclip',
                                   'denseclip_clip-r50_8xb4-80k_ade20k-512x512.py'))
    init_default_scope('mmseg')
    model_cfg = cfg.model
    model_cfg.backbone.update(arch='tiny-rn', pretrained=None, input_resolution=64)
    model_cfg.text_encoder.update(arch='tiny-rn', pretrained=None)
    model_cfg.neck.in_channels = [32, 64, 128, 256]
    model_cfg.class_names = ['cat', 'dog', 'sky']
    model_cfg.decode_head.num_classes = 3
    model = MODELS.build(model_cfg)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lr = {id(p): g['lr'] for g in wrapper.optimizer.param_groups for p in g['params']}
    base = cfg.optim_wrapper.optimizer.lr
    assert lr[id(model.text_encoder.contexts)] == pytest.approx(base)
    assert lr[id(model.fusion.gamma)] == pytest.approx(base)
    assert all(lr[id(p)] == pytest.approx(base * 0.1) for p in model.backbone.parameters())
    assert all(not p.requires_grad for p in model.text_encoder.text.parameters())
    assert model.neck.lateral_convs[3].conv.in_channels == 256 + 3


# (config, rule, published GFLOPs, published params M)
PUBLISHED = [
    ('denseclip_clip-r50_8xb4-80k_ade20k-512x512.py', 'input', 269.2, 50.3),
    ('denseclip_clip-r101_8xb4-80k_ade20k-512x512.py', 'input', 346.3, 67.8),
    ('denseclip_clip-vit-b16_8xb4-80k_ade20k-640x640.py', 'output', 1043.1, 105.3),
]


@pytest.mark.slow
def test_denseclip_flops_and_params_reproduce_the_published_table(tmp_path):
    for config, rule, gflops, params in PUBLISHED:
        out = tmp_path / f'{config}.json'
        proc = run_tool('get_flops.py', osp.join(REPO, 'configs', 'denseclip', config),
                        '--shape', '1024', '--transposed-conv-rule', rule, '--json', str(out))
        assert proc.returncode == 0, proc.stderr[-3000:]
        row = json.loads(out.read_text())[0]
        assert row['gflops'] == pytest.approx(gflops, rel=0.01), (config, row['gflops'])
        assert row['params_m'] == pytest.approx(params, rel=0.01), (config, row['params_m'])
        assert row['text_gflops'] > 0  # counted apart, excluded from 'gflops'


VIT_B16_CONFIGS = {  # config -> class embedding added twice (DenseCLIP's official code)
    'baselines/fpn_clip-vit-b16_8xb4-80k_ade20k-640x640.py': True,
    'baselines/fpn_clip-vit-b16_4xb2-80k_cityscapes-512x1024.py': True,
    'denseclip/denseclip_clip-vit-b16_8xb4-80k_ade20k-640x640.py': True,
    'denseclip/denseclip_clip-vit-b16_4xb2-80k_cityscapes-512x1024.py': True,
    'convformer/convformer_clip-vit-b16_8xb4-80k_ade20k-640x640.py': False,
    'convformer/convformer_clip-vit-b16_4xb2-80k_cityscapes-512x1024.py': False,
    'clip_sp/clipsp_clip-vit-b16_4xb4-160k_ade20k-640x640.py': False,
    # CLIP-SP Table 1's `*` rows and the 512-px FLOPs/params row: the baseline's model
    'clip_sp/fpn_clip-vit-b16_4xb4-160k_ade20k-640x640.py': True,
    'clip_sp/denseclip_clip-vit-b16_4xb4-160k_ade20k-640x640.py': True,
    'baselines/fpn_clip-vit-b16-pos512_8xb4-80k_ade20k-640x640.py': True,
}


def test_vit_b16_denseclip_and_fpn_configs_add_the_class_embedding_twice():
    import glob
    found = {osp.relpath(p, osp.join(REPO, 'configs'))
             for p in glob.glob(osp.join(REPO, 'configs', '*', '*vit-b16*.py'))
             if Config.fromfile(p).model.get('backbone', {}).get('type') == 'CLIPViT'}
    assert found == set(VIT_B16_CONFIGS)  # every ViT-B/16 config with DenseCLIP's backbone
    init_default_scope('mmseg')
    for name, double in VIT_B16_CONFIGS.items():
        cfg = Config.fromfile(osp.join(REPO, 'configs', name))
        assert cfg.model.backbone.get('double_class_embedding', False) is double, name
        if not name.startswith('denseclip/'):
            continue
        # the setting reaches the backbone of the model the config builds; the class token
        # entering the blocks is ln_pre(x_cls + pos_0 + x_cls), computed by hand here
        model_cfg = cfg.model
        model_cfg.backbone.update(arch='tiny-vit', pretrained=None, input_resolution=64,
                                  out_indices=(0, 1, 2, 3),
                                  norm_cfg=dict(type='BN'))
        model_cfg.text_encoder.update(arch='tiny-vit', pretrained=None)
        model_cfg.neck.in_channels = [32] * 4
        model_cfg.class_names = ['cat', 'dog']
        model_cfg.decode_head.num_classes = 2
        model = MODELS.build(model_cfg).eval()
        v = model.backbone.visual
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            tokens, _ = model.backbone.embed(x)
            patches = v.conv1(x).flatten(2).transpose(1, 2)[0]          # (16, 32)
            pos = v.positional_embedding
            cls = v.class_embedding + pos[0] + v.class_embedding        # added twice
            expected = v.ln_pre(torch.cat([cls[None], patches + pos[1:]]))
        torch.testing.assert_close(tokens[0], expected, rtol=1e-6, atol=1e-6)
        assert (v.ln_pre(v.class_embedding + pos[0]) - tokens[0, 0]).abs().max() > 1e-3
