"""Conv-Former (Jin & Yang, arXiv:2310.07394): the lightweight cross attention against an explicit reference,
the parameter inventory of each block, the outer residual and score map, and the frozen
text encoder running once per training run."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

import langseg  # noqa: F401
from langseg.models.backbones import BackboneOutput
from langseg.models.layers import MultiHeadAttention
from langseg.methods.convformer.fusion import (Conv2Former, ConvFormerBlock, ConvFormerFusion,
                                               Former, Former2Conv)
from langseg.utils.errors import ConfigError
from mmseg.registry import MODELS

torch.manual_seed(0)


def explicit_mha(q, k, v, heads, weighting='softmax'):
    """``concat_h softmax(q_h k_h^T / sqrt(d)) v_h`` written out, (B, N, C) tokens."""
    b, nq, c = q.shape
    d = c // heads
    outs = []
    for h in range(heads):
        qh, kh, vh = (t[..., h * d:(h + 1) * d] for t in (q, k, v))
        logits = qh @ kh.transpose(1, 2) / math.sqrt(d)
        if weighting == 'softmax':
            weights = torch.softmax(logits, dim=-1)
        else:
            weights = logits / kh.shape[1]
        outs.append(weights @ vh)
    return torch.cat(outs, dim=-1)


@pytest.mark.parametrize('weighting', ['softmax', 'inner_product'])
def test_conv2former_matches_explicit_attention(weighting):
    dim, heads, k = 32, 4, 7
    block = Conv2Former(dim, heads, weighting, dict(type='BN')).eval()
    text, image = torch.randn(2, k, dim), torch.randn(2, dim, 9, 12)
    x = block.downsample(image)
    assert x.shape[-2:] == (3, 4)          # stride-3 kernel-3 downsampling
    tokens = x.flatten(2).transpose(1, 2)
    attn = block.attn
    q = text @ attn.q_proj.weight.T + attn.q_proj.bias   # W^Q on the text
    ref = explicit_mha(q, tokens, tokens, heads, weighting)  # image keys/values unprojected
    ref = ref @ attn.out_proj.weight.T + attn.out_proj.bias  # W^O
    torch.testing.assert_close(block(text, image), text + ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('weighting', ['softmax', 'inner_product'])
def test_former2conv_matches_explicit_attention(weighting):
    dim, heads, k = 32, 4, 5
    block = Former2Conv(dim, heads, weighting).eval()
    text, image = torch.randn(2, k, dim), torch.randn(2, dim, 6, 5)
    pixels = image.flatten(2).transpose(1, 2)             # unprojected pixel queries
    attn = block.attn
    keys = text @ attn.k_proj.weight.T + attn.k_proj.bias
    values = text @ attn.v_proj.weight.T + attn.v_proj.bias
    ref = explicit_mha(pixels, keys, values, heads, weighting)
    ref = image + ref.transpose(1, 2).reshape(image.shape)
    torch.testing.assert_close(block(image, text), ref, atol=1e-5, rtol=1e-5)


def test_former_is_a_post_norm_block_with_ffn_expansion_two():
    dim, heads = 32, 4
    former = Former(dim, heads, ffn_ratio=2, dropout=0.0).eval()
    assert former.ffn[0].out_features == 2 * dim
    t = torch.randn(3, 6, dim)
    a = former.attn
    q, k, v = (t @ p.weight.T + p.bias for p in (a.q_proj, a.k_proj, a.v_proj))
    y = explicit_mha(q, k, v, heads) @ a.out_proj.weight.T + a.out_proj.bias
    y = F.layer_norm(t + y, (dim, ), former.norm1.weight, former.norm1.bias)
    ffn = F.linear(F.gelu(F.linear(y, former.ffn[0].weight, former.ffn[0].bias)),
                   former.ffn[3].weight, former.ffn[3].bias)
    ref = F.layer_norm(y + ffn, (dim, ), former.norm2.weight, former.norm2.bias)
    torch.testing.assert_close(former(t), ref, atol=1e-5, rtol=1e-5)


def test_parameter_inventory_has_no_projection_where_the_paper_removes_it():
    dim, heads = 64, 8
    block = ConvFormerBlock(dim, heads, ffn_ratio=2, conv_expand_ratio=2,
                            weighting='softmax', dropout=0.0, norm_cfg=dict(type='BN'))
    names = {n for n, _ in block.named_parameters()}
    # Conv2Former: W^Q and W^O only (image keys/values are not projected).
    assert {'conv2former.attn.q_proj.weight', 'conv2former.attn.out_proj.weight'} <= names
    assert not any(n.startswith(('conv2former.attn.k_proj', 'conv2former.attn.v_proj'))
                   for n in names)
    # Former2Conv: W^K and W^V only (pixel queries unprojected, no output projection).
    assert {'former2conv.attn.k_proj.weight', 'former2conv.attn.v_proj.weight'} <= names
    assert not any(n.startswith(('former2conv.attn.q_proj', 'former2conv.attn.out_proj'))
                   for n in names)
    # Former: a full MHSA (4 projections) + FFN 64 -> 128 -> 64 + two LayerNorms.
    former = sum(p.numel() for p in block.former.parameters())
    assert former == 4 * (dim * dim + dim) + (dim * 2 * dim + 2 * dim) + (2 * dim * dim + dim) \
        + 2 * 2 * dim
    # Conv: 1x1 expand, 3x3 depthwise, 1x1 project, each with BN.
    conv = block.conv
    assert conv.depthwise.conv.groups == 2 * dim and conv.depthwise.conv.kernel_size == (3, 3)
    assert sum(p.numel() for p in conv.parameters()) == \
        dim * 2 * dim + 2 * 2 * dim + 2 * dim * 9 + 2 * 2 * dim + 2 * dim * dim + 2 * dim
    down = block.conv2former.downsample.conv
    assert down.kernel_size == (3, 3) and down.stride == (3, 3)


def randomise_(module: torch.nn.Module, seed: int = 0) -> None:
    """Every parameter and BN statistic random (no identity LayerNorm, no unit BN), so a
    reference that forgets an affine, a statistic or a bias cannot agree by accident."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith('running_var'):
                t.copy_(0.5 + torch.rand(t.shape, generator=gen))
            elif name.endswith(('norm1.weight', 'norm2.weight', 'bn.weight')):
                t.copy_(1 + 0.2 * torch.randn(t.shape, generator=gen))
            else:
                t.copy_(0.2 * torch.randn(t.shape, generator=gen))


def plain_attention(q, k, v, heads, weighting):
    """``concat_h w(q_h k_h^T / sqrt(d)) v_h`` with w = softmax over the keys, or (the
    inner-product ablation) division by the number of keys; (B, N, C) tokens."""
    b, nq, c = q.shape
    d = c // heads
    q = q.reshape(b, nq, heads, d).permute(0, 2, 1, 3)
    k = k.reshape(b, k.shape[1], heads, d).permute(0, 2, 1, 3)
    v = v.reshape(b, v.shape[1], heads, d).permute(0, 2, 1, 3)
    logits = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
    w = torch.softmax(logits, -1) if weighting == 'softmax' else logits / k.shape[2]
    return torch.matmul(w, v).permute(0, 2, 1, 3).reshape(b, nq, c)


def reference_convformer(sd: dict, feats: list, text: torch.Tensor, score_level: int,
                         num_blocks: int, heads: int, weighting: str, eps: float = 1e-5):
    """Conv-Former (Jin & Yang, arXiv:2310.07394, Sec. 3.2-3.3) written from the paper
    with torch.nn.functional and explicit matmuls, on the weights ``sd`` of a module
    (eval mode: BN uses its running statistics):

    I = ReLU(BN(conv1x1(F_level))); per block (Fig. 2):
      Conv2Former, Eq. 3:  x = BN(conv3x3/s3(I)); T <- T + MHA(T W^Q, x, x) W^O
      Former (post-LN):    T <- LN(T + MHSA(T)); T <- LN(T + FFN_x2(T))
      Conv (MobileNetV2):  I <- I + BN(pw(ReLU6(BN(dw3x3(ReLU6(BN(pw(I))))))))
      Former2Conv, Eq. 4:  I <- I + MHA(I, T W^K, T W^V)
    Eq. 1: [T', I'] = blocks([T, I]) + [T, I]; Eq. 2: S = I' T'^T; X = [I', S]."""
    def lin(x, key, bias=True):
        return F.linear(x, sd[key + '.weight'], sd.get(key + '.bias') if bias else None)

    def conv_bn(x, key, stride=1, padding=0, groups=1):
        x = F.conv2d(x, sd[key + '.conv.weight'], None, stride, padding, 1, groups)
        return F.batch_norm(x, sd[key + '.bn.running_mean'], sd[key + '.bn.running_var'],
                            sd[key + '.bn.weight'], sd[key + '.bn.bias'], False, 0.0, eps)

    def ln(x, key):
        return F.layer_norm(x, (x.shape[-1], ), sd[key + '.weight'], sd[key + '.bias'], eps)

    image = F.relu(conv_bn(feats[score_level], 'image_proj'))
    b, c = image.shape[:2]
    text0 = text.unsqueeze(0).repeat(b, 1, 1)
    t, i = text0, image
    for n in range(num_blocks):
        p = f'blocks.{n}.'
        # Conv2Former (Eq. 3): image keys/values unprojected
        x = conv_bn(i, p + 'conv2former.downsample', stride=3)
        x = x.flatten(2).transpose(1, 2)
        a = plain_attention(lin(t, p + 'conv2former.attn.q_proj'), x, x, heads, weighting)
        t = t + lin(a, p + 'conv2former.attn.out_proj')
        # Former: post-LN MHSA + FFN (expansion 2)
        a = plain_attention(lin(t, p + 'former.attn.q_proj'), lin(t, p + 'former.attn.k_proj'),
                            lin(t, p + 'former.attn.v_proj'), heads, 'softmax')
        t = ln(t + lin(a, p + 'former.attn.out_proj'), p + 'former.norm1')
        t = ln(t + lin(F.gelu(lin(t, p + 'former.ffn.0')), p + 'former.ffn.3'),
               p + 'former.norm2')
        # Conv: inverted bottleneck, 3x3 depthwise, linear projection, residual
        hidden = sd[p + 'conv.expand.conv.weight'].shape[0]
        y = F.relu6(conv_bn(i, p + 'conv.expand'))
        y = F.relu6(conv_bn(y, p + 'conv.depthwise', padding=1, groups=hidden))
        i = i + conv_bn(y, p + 'conv.project')
        # Former2Conv (Eq. 4): pixel queries unprojected, no output projection
        h, w = i.shape[-2:]
        pixels = i.flatten(2).transpose(1, 2)
        a = plain_attention(pixels, lin(t, p + 'former2conv.attn.k_proj'),
                            lin(t, p + 'former2conv.attn.v_proj'), heads, weighting)
        i = i + a.transpose(1, 2).reshape(b, c, h, w)
    t, i = t + text0, i + image                                             # Eq. 1
    score = torch.matmul(t, i.flatten(2)).reshape(b, -1, *i.shape[-2:])     # Eq. 2
    return torch.cat([i, score], 1), score


@pytest.mark.parametrize('bridge', ['cross_attention', 'inner_product'])
def test_neck_equals_the_papers_equations_written_independently(bridge):
    k, dim, heads, blocks = 5, 32, 4, 2
    neck = ConvFormerFusion(in_channels=[8, 16, 24, 48], text_dim=dim, num_classes=k,
                          num_blocks=blocks, num_heads=heads, use_embeddings=False,
                          bridge=bridge).eval()
    randomise_(neck)
    neck.double()   # float64 on both sides: 1e-5 then measures the maths, not rounding
    assert neck.neck_in_channels() == [8, 16, 24, dim + k]
    gen = torch.Generator().manual_seed(1)
    feats = [torch.randn(2, c, s, s + 3, generator=gen, dtype=torch.float64)
             for c, s in zip([8, 16, 24, 48], [48, 24, 12, 6])]
    text = torch.randn(k, dim, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        out = neck(BackboneOutput(tuple(feats)), text)
        weighting = 'softmax' if bridge == 'cross_attention' else 'inner_product'
        ref_x, ref_score = reference_convformer(neck.state_dict(), feats, text, 3, blocks,
                                                heads, weighting)
    assert out.score.shape == (2, k, 6, 9)
    torch.testing.assert_close(out.score, ref_score, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.maps[3], ref_x, atol=1e-5, rtol=1e-5)
    for a, b in zip(out.maps[:3], feats[:3]):
        assert a is b
    assert len(neck.blocks) == blocks


def test_inner_product_and_block_count_options_are_validated():
    with pytest.raises(ConfigError, match='bridge'):
        ConvFormerFusion([8], 16, 3, score_level=0, bridge='dot')
    with pytest.raises(ConfigError, match='num_blocks'):
        ConvFormerFusion([8], 16, 3, score_level=0, num_blocks=0)
    for n in range(1, 9):
        neck = ConvFormerFusion([8], 16, 3, score_level=0, num_blocks=n, num_heads=2,
                              use_embeddings=False, bridge='inner_product')
        assert len(neck.blocks) == n
        assert neck.blocks[0].former2conv.attn.weighting == 'inner_product'


def test_attention_layer_rejects_bad_shapes():
    with pytest.raises(ConfigError, match='divisible'):
        MultiHeadAttention(30, 4)
    with pytest.raises(ConfigError, match='W\\^K'):
        MultiHeadAttention(32, 4, key_dim=16, k_proj=False)


def tiny_convformer_model(**fusion):
    init_default_scope('mmseg')
    from langseg.datasets.toy_shapes import TOY_CLASSES
    cfg = dict(
        type='LanguageGuidedEncoderDecoder', class_names='toy',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1],
                               size=(64, 64)),
        backbone=dict(type='CLIPResNet', arch='tiny-rn', with_embeddings=False),
        text_encoder=dict(type='FrozenCLIPTextEncoder', arch='tiny-text'),
        fusion=dict(type='ConvFormerFusion', num_blocks=2, num_heads=4, use_embeddings=False,
                    **fusion),
        neck=dict(type='FPN', in_channels=[32, 64, 128, 256], out_channels=16, num_outs=4),
        decode_head=dict(type='FPNHead', in_channels=[16] * 4, in_index=[0, 1, 2, 3],
                         feature_strides=[4, 8, 16, 32], channels=16,
                         num_classes=len(TOY_CLASSES),
                         loss_decode=dict(type='CrossEntropyLoss')))
    return MODELS.build(cfg)


def toy_batch(n=2, size=64, num_classes=10):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(n):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, size, size)))
        s.set_metainfo(dict(img_shape=(size, size), pad_shape=(size, size),
                            ori_shape=(size, size)))
        samples.append(s)
    return torch.randn(n, 3, size, size), samples


def test_frozen_text_encoder_runs_once_over_training_iterations():
    model = tiny_convformer_model()
    model.train()
    calls = []
    model.text_encoder.text.transformer.register_forward_hook(lambda *a: calls.append(1))
    optim = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
    inputs, samples = toy_batch()
    for _ in range(3):
        losses = model(inputs, samples, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert len(calls) == 1
    assert not any(p.requires_grad for p in model.text_encoder.parameters())
    model.eval()
    with torch.no_grad():
        model(inputs, mode='tensor')
    assert len(calls) == 1
    # the neck's K + C channels were sized by the segmentor
    assert model.neck.lateral_convs[3].conv.in_channels == 32 + 10


def test_segmentor_refuses_a_head_for_another_number_of_classes():
    init_default_scope('mmseg')
    cfg = dict(type='LanguageGuidedEncoderDecoder', class_names=['cat', 'dog'],
               backbone=dict(type='CLIPResNet', arch='tiny-rn', with_embeddings=False),
               text_encoder=dict(type='FrozenCLIPTextEncoder', arch='tiny-text'),
               fusion=dict(type='ConvFormerFusion', use_embeddings=False, num_heads=4),
               neck=dict(type='FPN', in_channels=[32, 64, 128, 256], out_channels=16,
                         num_outs=4),
               decode_head=dict(type='FPNHead', in_channels=[16] * 4, in_index=[0, 1, 2, 3],
                                feature_strides=[4, 8, 16, 32], channels=16, num_classes=3))
    with pytest.raises(ConfigError, match='num_classes=3 but model.class_names has 2'):
        MODELS.build(cfg)
    cfg['decode_head']['num_classes'] = 2          # the matching head builds
    assert MODELS.build(cfg).decode_head.num_classes == 2


def test_the_old_name_convformerneck_builds_the_same_fusion():
    """Configs and checkpoints written before the rename (``type='ConvFormerNeck'``) build
    the same class with the same parameter names."""
    old = MODELS.build(dict(type='ConvFormerNeck', in_channels=[8], text_dim=16,
                            num_classes=3, score_level=0, num_blocks=1, num_heads=2))
    new = MODELS.build(dict(type='ConvFormerFusion', in_channels=[8], text_dim=16,
                            num_classes=3, score_level=0, num_blocks=1, num_heads=2))
    assert type(old) is type(new) is ConvFormerFusion
    assert list(old.state_dict()) == list(new.state_dict())
