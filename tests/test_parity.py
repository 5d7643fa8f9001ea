"""Facts of the official implementations that langseg matches, pinned on identical random
weights (fp32, CPU). Each reference below is written here from the official code's
behaviour (ProxyCLIP: github.com/mc-lan/ProxyCLIP; DINO: github.com/facebookresearch/dino;
DenseCLIP: github.com/raoyongming/DenseCLIP; SegCLIP: github.com/ArrowLuo/SegCLIP; MAE:
github.com/facebookresearch/mae), step by step, not by calling langseg's helpers.
docs/methods/{proxyclip,denseclip,segclip}.md list each fact with its test."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

import langseg  # noqa: F401
from mmseg.registry import MODELS

CLIP_MEAN = [122.771, 116.746, 104.094]
CLIP_STD = [68.501, 66.632, 70.323]
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


# ---------------------------------------------------------------------------- helpers
def dino_interpolate_pos_encoding(pos: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """DINO's ``interpolate_pos_encoding`` (also ProxyCLIP's CLIP): (1+N, C) stored for a
    square grid -> (1+h*w, C): bicubic by scale_factor (side + 0.1) / sqrt(N)."""
    n = pos.shape[0] - 1
    side = int(math.sqrt(n))
    if n == h * w and h == w:
        return pos
    grid = pos[1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=((h + 0.1) / side, (w + 0.1) / side),
                         mode='bicubic')
    assert grid.shape[-2:] == (h, w)
    return torch.cat([pos[:1], grid.permute(0, 2, 3, 1).reshape(h * w, -1)], dim=0)


def bilinear_grid(pos: torch.Tensor, src: int, h: int, w: int) -> torch.Tensor:
    """DenseCLIP's resize: (1+src^2, C) -> (1+h*w, C), bilinear, align_corners False."""
    grid = pos[1:].reshape(1, src, src, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(h, w), mode='bilinear', align_corners=False)
    return torch.cat([pos[:1], grid.reshape(pos.shape[1], h * w).permute(1, 0)], dim=0)


# --------------------------------------------------------------------------- ProxyCLIP
def tiny_dino_vfm(**kwargs):
    init_default_scope('mmseg')
    cfg = dict(type='TimmVFM', name=None, model_name='vit_small_patch8_224.dino',
               pretrained=None, pos_interp='bicubic-offset',
               model_kwargs=dict(depth=2, embed_dim=32, num_heads=2))
    cfg.update(kwargs)
    return MODELS.build(cfg).eval()


def test_dino_presets_normalise_with_imagenet_statistics():
    """ProxyCLIP's official code feeds DINO the ImageNet mean/std; timm's untagged
    vit_base_patch8_224 (an AugReg model) would normalise by 0.5."""
    import timm
    from langseg.models.backbones import VFM_PRESETS
    for name in ('dino-b8', 'dino-b16', 'dino-s8', 'dino-s16'):
        cfg = timm.models.get_pretrained_cfg(VFM_PRESETS[name]['model_name'])
        assert tuple(cfg.mean) == IMAGENET_MEAN and tuple(cfg.std) == IMAGENET_STD, name
        assert VFM_PRESETS[name]['pos_interp'] == 'bicubic-offset'
    assert tuple(timm.models.get_pretrained_cfg('vit_base_patch8_224').mean) == (0.5, ) * 3
    # the preset's tagged name reaches timm: a tiny B/8 built from it normalises as DINO
    for vfm in (tiny_dino_vfm(), tiny_dino_vfm(model_name='vit_base_patch8_224.dino')):
        torch.testing.assert_close(vfm.mean.flatten() / 255, torch.tensor(IMAGENET_MEAN))
        torch.testing.assert_close(vfm.std.flatten() / 255, torch.tensor(IMAGENET_STD))
    vfm = tiny_dino_vfm()
    # and the model sees exactly (rgb / 255 - mean) / std: at the stored grid (224 / 8 = 28)
    # no position is resized, so timm's own forward is the reference
    torch.manual_seed(0)
    rgb = torch.rand(2, 3, 224, 224) * 255
    x = (rgb / 255 - torch.tensor(IMAGENET_MEAN)[:, None, None]) / \
        torch.tensor(IMAGENET_STD)[:, None, None]
    ref = vfm.model.forward_intermediates(x, indices=1, norm=True, output_fmt='NCHW',
                                          intermediates_only=True)[-1]
    torch.testing.assert_close(vfm(rgb), ref, atol=1e-5, rtol=1e-5)


def dino_forward(model, x: torch.Tensor) -> torch.Tensor:
    """DINO's ``get_intermediate_layers(x)[0]`` without the class token, (B, C, h, w):
    patch embedding, class token, positions by interpolate_pos_encoding, blocks, norm."""
    b, _, hh, ww = x.shape
    p = model.patch_embed.proj.kernel_size[0]
    tokens = model.patch_embed.proj(x).flatten(2).transpose(1, 2)
    tokens = torch.cat([model.cls_token.expand(b, -1, -1), tokens], dim=1)
    tokens = tokens + dino_interpolate_pos_encoding(model.pos_embed[0], hh // p, ww // p)
    for block in model.blocks:
        tokens = block(tokens)
    tokens = model.norm(tokens)[:, 1:]
    return tokens.transpose(1, 2).reshape(b, -1, hh // p, ww // p)


@pytest.mark.parametrize('size', [(336, 336), (224, 336), (56, 112)])
def test_vfm_positions_follow_dino_interpolate_pos_encoding(size):
    vfm = tiny_dino_vfm()
    torch.manual_seed(1)
    with torch.no_grad():
        vfm.model.pos_embed.normal_()
    rgb = torch.rand(1, 3, *size) * 255
    x = (rgb - vfm.mean) / vfm.std
    torch.testing.assert_close(vfm(rgb), dino_forward(vfm.model, x), atol=1e-5, rtol=1e-5)
    if size != (224, 224):  # timm's own rule (antialiased bicubic by size) differs
        timm_out = tiny_dino_vfm(pos_interp='bicubic-antialias')(rgb)
        assert (timm_out - vfm(rgb)).abs().max() > 1e-4


def tiny_proxyclip(**kwargs):
    init_default_scope('mmseg')
    cfg = dict(type='ProxyCLIPSegmentor', class_names=['sky; cloud', 'cat', 'dog'],
               clip=dict(arch='tiny-vit', pretrained=None, mean=CLIP_MEAN, std=CLIP_STD),
               vfm=dict(type='TimmVFM', name=None, model_name='vit_small_patch8_224.dino',
                        pretrained=None, pos_interp='bicubic-offset',
                        model_kwargs=dict(depth=2, embed_dim=32, num_heads=2)),
               templates='a photo of a {}.', slide_crop=112, slide_stride=56,
               data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True))
    cfg.update(kwargs)
    torch.manual_seed(0)
    model = MODELS.build(cfg).eval()
    with torch.no_grad():  # positions far from smooth, so any resize rule shows
        model.visual.positional_embedding.normal_(std=0.5)
        model.vfm.model.pos_embed.normal_()
    return model


def pixels(normalised: torch.Tensor) -> torch.Tensor:
    """The RGB pixels in [0, 255] that CLIP's normalisation (the official preprocessor's
    rounded statistics) turns into ``normalised`` (..., 3, H, W): what ProxyCLIP takes."""
    return normalised * torch.tensor(CLIP_STD)[:, None, None] + \
        torch.tensor(CLIP_MEAN)[:, None, None]


def official_proxyclip_window(model, crop: torch.Tensor) -> torch.Tensor:
    """ProxyCLIP's ``forward_feature`` for one normalised, padded square crop (B, 3, H, W),
    as the official code computes it: -> cosine logits (B, Q, H, W)."""
    visual = model.visual
    b, _, hh, ww = crop.shape
    p = visual.conv1.kernel_size[0]
    # the VFM: un-normalise with CLIP's stats, re-normalise with ImageNet's
    unnorm = crop * torch.tensor(CLIP_STD)[:, None, None] / 255 + \
        torch.tensor(CLIP_MEAN)[:, None, None] / 255
    imgs_norm = (unnorm - torch.tensor(IMAGENET_MEAN)[:, None, None]) / \
        torch.tensor(IMAGENET_STD)[:, None, None]
    ex_feats = dino_forward(model.vfm.model, imgs_norm)                  # B, C, I, J
    # CLIP: blocks 0..L-2 unchanged, positions by interpolate_pos_encoding
    x = visual.conv1(crop).flatten(2).transpose(1, 2)
    x = torch.cat([visual.class_embedding.expand(b, 1, -1), x], dim=1)
    x = x + dino_interpolate_pos_encoding(visual.positional_embedding, hh // p, ww // p)
    x = visual.ln_pre(x)
    for block in visual.transformer.resblocks[:-1]:
        x = block(x)
    # custom_attn: values of the last block, proxy affinities shared by every head
    last = visual.transformer.resblocks[-1]
    attn = last.attn
    width, heads = attn.embed_dim, attn.num_heads
    head_dim = width // heads
    v = F.linear(last.ln_1(x), attn.in_proj_weight, attn.in_proj_bias)[..., 2 * width:]
    big_h, big_w = ex_feats.shape[-2:]
    q_k = F.normalize(ex_feats.flatten(2), dim=1)
    sim = torch.einsum('bcm,bcn->bmn', q_k, q_k)
    sim = (sim - sim.mean(dim=(1, 2), keepdim=True) * model.beta) * model.gamma
    sim[sim < 0.0] = float('-inf')
    weights = F.softmax(sim, dim=-1)
    out = torch.zeros(b, big_h * big_w, width)
    for h in range(heads):
        vh = v[:, 1:, h * head_dim:(h + 1) * head_dim]
        vh = vh.reshape(b, hh // p, ww // p, head_dim).permute(0, 3, 1, 2)
        vh = F.interpolate(vh, size=(big_h, big_w), mode='bilinear', align_corners=False)
        vh = vh.permute(0, 2, 3, 1).reshape(b, big_h * big_w, head_dim)
        out[..., h * head_dim:(h + 1) * head_dim] = torch.bmm(weights, vh)
    feats = visual.ln_post(attn.out_proj(out)) @ visual.proj
    feats = feats / feats.norm(dim=-1, keepdim=True)
    text = model.text_encoder()
    logits = (feats @ text.T).permute(0, 2, 1).reshape(b, -1, big_h, big_w)
    return F.interpolate(logits, size=(hh, ww), mode='bilinear')


@pytest.mark.parametrize('side', [112, 168])
def test_proxyclip_window_equals_the_official_computation(side):
    model = tiny_proxyclip()
    torch.manual_seed(2)
    crop = torch.randn(2, 3, side, side)
    with torch.no_grad():
        ours = model.window_logits(pixels(crop))
        ref = official_proxyclip_window(model, crop)
    torch.testing.assert_close(ours, ref, atol=2e-5, rtol=1e-4)


def test_proxyclip_clip_positions_resize_by_the_scale_factor_rule():
    model = tiny_proxyclip()
    visual = model.visual
    from langseg.models.clip import embed_vit_tokens
    x = torch.randn(1, 3, 112, 112)
    with torch.no_grad():
        tokens, grid = embed_vit_tokens(visual, x, model.pos_interp)
        ref = visual.conv1(x).flatten(2).transpose(1, 2)
        ref = torch.cat([visual.class_embedding.expand(1, 1, -1), ref], dim=1)
        ref = visual.ln_pre(ref + dino_interpolate_pos_encoding(
            visual.positional_embedding, *grid))
    torch.testing.assert_close(tokens, ref)


def test_proxyclip_image_prediction_equals_the_official_sliding_window():
    """The whole predict path on a 100 x 200 image (windows 112 / stride 56: 100 x 112
    windows, padded to 112 x 112) against the official slide: sum of window logits / count, bilinear to
    the original size, x40, softmax, synonym max, argmax."""
    model = tiny_proxyclip()
    torch.manual_seed(3)
    img = torch.randn(3, 100, 200)
    with torch.no_grad():
        out = model.predict(pixels(img)[None])[0]
        h, w = img.shape[-2:]
        preds, count = torch.zeros(4, h, w), torch.zeros(1, h, w)
        for y1, y2, x1, x2 in model.windows.boxes(h, w):
            crop = img[None, :, y1:y2, x1:x2]
            ch, cw = crop.shape[-2:]
            pw, ph = (56 - cw % 56) % 56, (56 - ch % 56) % 56
            pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
            logits = official_proxyclip_window(model, F.pad(crop, pad))
            preds[:, y1:y2, x1:x2] += logits[0, :, pad[2]:pad[2] + ch, pad[0]:pad[0] + cw]
            count[:, y1:y2, x1:x2] += 1
        probs = (preds / count * 40).softmax(0)
        probs = torch.stack([probs[:2].max(0).values, probs[2], probs[3]])  # sky; cloud
    torch.testing.assert_close(out.seg_logits.data, probs, atol=1e-5, rtol=1e-4)
    assert torch.equal(out.pred_sem_seg.data[0], probs.argmax(0))


# --------------------------------------------------------------------------- DenseCLIP
def test_denseclip_resnet_pool_positions_are_bilinear():
    """DenseCLIP's AttentionPool2d at any map size: [mean; tokens] + the 16x16 (here 4x4)
    grid resized bilinear to the map, every token a query of the full multi-head
    attention, c_proj. Written with F.multi_head_attention_forward as the official."""
    from langseg.models.backbones import CLIPResNet
    torch.manual_seed(0)
    backbone = CLIPResNet('tiny-rn', input_resolution=128).eval()
    pool = backbone.visual.attnpool
    assert pool.spacial_dim == 4
    with torch.no_grad():
        pool.positional_embedding.normal_()
        x = torch.randn(2, pool.q_proj.in_features, 5, 3)
        global_emb, dense = pool(x)
        tokens = x.flatten(2).permute(2, 0, 1)                          # HW, B, C
        tokens = torch.cat([tokens.mean(dim=0, keepdim=True), tokens])
        tokens = tokens + bilinear_grid(pool.positional_embedding, 4, 5, 3)[:, None]
        ref, _ = F.multi_head_attention_forward(
            query=tokens, key=tokens, value=tokens, embed_dim_to_check=tokens.shape[-1],
            num_heads=pool.num_heads, q_proj_weight=pool.q_proj.weight,
            k_proj_weight=pool.k_proj.weight, v_proj_weight=pool.v_proj.weight,
            in_proj_weight=None,
            in_proj_bias=torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0,
            out_proj_weight=pool.c_proj.weight, out_proj_bias=pool.c_proj.bias,
            use_separate_proj_weight=True, training=False, need_weights=False)
    torch.testing.assert_close(global_emb, ref[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(dense, ref[1:].permute(1, 2, 0).reshape(2, -1, 5, 3),
                               atol=1e-5, rtol=1e-5)


def test_denseclip_vit_positions_bilinear_on_load_and_at_run_time(tmp_path):
    """Loading 224 px CLIP weights (4x4 grid for the tiny ViT) into a 640-style tower
    resizes the grid bilinear; each forward resizes the stored grid bilinear again."""
    from langseg.models.backbones import CLIPViT
    from langseg.models.clip import build_visual_tower
    torch.manual_seed(0)
    src = build_visual_tower('tiny-vit')                               # 64 px: 4x4
    with torch.no_grad():
        src.positional_embedding.normal_()
    state = {f'visual.{k}': v for k, v in src.state_dict().items()}
    path = tmp_path / 'tiny.pt'
    torch.save(state, path)
    backbone = CLIPViT('tiny-vit', pretrained=str(path), input_resolution=160,
                       out_indices=(0, 1, 2, 3), norm_cfg=dict(type='BN'))
    backbone.init_weights()
    stored = backbone.visual.positional_embedding.detach()
    torch.testing.assert_close(stored, bilinear_grid(src.positional_embedding.detach(),
                                                     4, 10, 10))
    x = torch.randn(1, 3, 128, 96)                                     # 8 x 6 patches
    with torch.no_grad():
        tokens, _ = backbone.embed(x)
        ref = backbone.visual.conv1(x).flatten(2).transpose(1, 2)
        ref = torch.cat([backbone.visual.class_embedding.expand(1, 1, -1), ref], dim=1)
        ref = backbone.visual.ln_pre(ref + bilinear_grid(stored, 10, 8, 6))
    torch.testing.assert_close(tokens, ref)


def test_denseclip_vit_adapters_carry_group_norms_with_the_official_keys():
    from langseg.models.backbones import CLIPViT
    backbone = CLIPViT('tiny-vit', out_indices=(0, 1, 2, 3), norm_cfg=dict(type='BN')).eval()
    keys = set(backbone.state_dict())
    official = {'fpn1.0.weight', 'fpn1.0.bias', 'fpn1.1.weight', 'fpn1.1.bias',
                'fpn1.2.weight', 'fpn1.2.running_mean', 'fpn1.4.weight', 'fpn1.4.bias',
                'fpn2.0.weight', 'fpn2.0.bias', 'fpn2.1.weight', 'fpn2.1.bias',
                'fpn3.weight', 'fpn3.bias', 'fpn4.0.weight', 'fpn4.0.bias'}
    assert official <= keys
    assert sorted(k for k in keys if k.startswith('fpn')) == sorted(
        official | {'fpn1.2.bias', 'fpn1.2.running_var', 'fpn1.2.num_batches_tracked'})
    for gn in (backbone.fpn1[0], backbone.fpn2[0], backbone.fpn3, backbone.fpn4[0]):
        assert isinstance(gn, torch.nn.GroupNorm) and gn.num_groups == 1
    torch.manual_seed(0)
    with torch.no_grad():
        for gn in (backbone.fpn1[0], backbone.fpn2[0], backbone.fpn3, backbone.fpn4[0]):
            gn.weight.normal_()
            gn.bias.normal_()
        x = torch.randn(2, 3, 64, 48)
        outs = backbone(x)
        tokens, (h, w) = backbone.embed(x)
        maps = []
        for block in backbone.visual.transformer.resblocks:
            tokens = block(tokens)
            maps.append(tokens[:, 1:].transpose(1, 2).reshape(2, -1, h, w))

        def gn(m, t):
            return F.group_norm(t, 1, m.weight, m.bias, m.eps)

        f = backbone.fpn1
        ref1 = f[4](F.gelu(f[2](f[1](gn(f[0], maps[0])))))
        ref2 = backbone.fpn2[1](gn(backbone.fpn2[0], maps[1]))
        ref3 = gn(backbone.fpn3, maps[2])
        ref4 = F.max_pool2d(gn(backbone.fpn4[0], maps[3]), 2)
    for ours, ref in zip(outs.maps, (ref1, ref2, ref3, ref4), strict=True):
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_denseclip_double_class_embedding_is_an_option():
    from langseg.models.backbones import CLIPViT
    plain = CLIPViT('tiny-vit', out_indices=(0, 1, 2, 3), norm_cfg=dict(type='BN')).eval()
    official = CLIPViT('tiny-vit', out_indices=(0, 1, 2, 3), norm_cfg=dict(type='BN'),
                       double_class_embedding=True).eval()
    official.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, _ = plain.embed(x)
        b, _ = official.embed(x)
        v = plain.visual
        cls = v.ln_pre(2 * v.class_embedding + v.positional_embedding[0])
    torch.testing.assert_close(b[:, 0], cls[None])
    torch.testing.assert_close(a[:, 1:], b[:, 1:])
    assert (a[:, 0] - b[:, 0]).abs().max() > 1e-3


def test_context_decoder_applies_dropout_after_its_mlp():
    from langseg.methods.denseclip import ContextDecoder
    decoder = ContextDecoder(visual_dim=24, width=32, num_heads=4, num_layers=1,
                             dropout=0.5).train()
    layer = decoder.layers[0]
    seen = {}
    layer.mlp.register_forward_hook(lambda m, i, o: seen.update(mlp=o))
    layer.dropout.register_forward_hook(lambda m, i, o: seen.update(drop=(i[0], o)))
    torch.manual_seed(0)
    decoder(torch.randn(2, 3, 24), torch.randn(2, 5, 24))
    assert seen['drop'][0] is seen['mlp']                    # dropout of the MLP output
    dropped = seen['drop'][1] == 0
    assert 0.3 < dropped.float().mean() < 0.7                # p = 0.5 in training
    inner = [m for m in layer.mlp if isinstance(m, torch.nn.Dropout)]
    assert len(inner) == 1 and inner[0].p == 0.5             # and inside it, after GELU
    assert isinstance(layer.mlp[1], torch.nn.GELU) and layer.mlp[2] is inner[0]


# ----------------------------------------------------------------------------- SegCLIP
def test_background_indicator_keeps_ties_as_foreground_and_thresholds_per_window():
    from langseg.methods.segclip import background_indicator
    # window 0: max G = 0.9 > bg_thresh 0.5 -> threshold 0.5; window 1: max G = 0.3
    g = torch.tensor([[[0.9, 0.1], [0.2, 0.0]],
                      [[0.3, 0.1], [0.05, 0.2]]])                    # B=2, L=2, T=2
    fg = torch.tensor([[[[0.5, 0.49]], [[0.1, 0.2]]],                 # B, T, h=1, w=2
                       [[[0.3, 0.2]], [[0.1, 0.29]]]])
    bg = background_indicator(fg, g, bg_thresh=0.5)
    # window 0, pixel 0: best 0.5 == threshold 0.5 -> foreground (strict <)
    # window 0, pixel 1: best 0.49 < 0.5 -> background
    # window 1: threshold min(0.5, 0.3) = 0.3: pixel 0 best 0.3 == 0.3 -> foreground,
    #           pixel 1 best 0.29 < 0.3 -> background
    assert bg.tolist() == [[[[0.0, 1.0]]], [[[0.0, 1.0]]]]
    # a threshold computed once after merging (max G = 0.9 over both) would make window
    # 1's pixel 0 background
    assert background_indicator(fg, g, bg_thresh=None).tolist() == \
        [[[[1.0, 1.0]]], [[[0.0, 1.0]]]]


def tiny_segclip(pretrainer: bool = False, **kwargs):
    """The tiny zero-shot SegCLIP, or (``pretrainer``) the pretraining model holding it."""
    init_default_scope('mmseg')
    heads = dict(type='SegCLIPPretrainer',
                 losses=('contrastive', 'reconstruction', 'superpixel'),
                 decoder=dict(decoder_dim=16, decoder_depth=1, decoder_heads=2,
                              encoder_depth=2)) if pretrainer else dict(type='SegCLIP')
    cfg = dict(**heads,
               backbone=dict(arch='tiny-vit', pretrained=None, plug_layer=2, num_centers=4),
               class_names=['background', 'cat', 'dog', 'car'], background=True,
               bg_thresh=0.5, top_k=2, templates='a photo of a {}.', slide_crop=64,
               slide_stride=64, short_side=None,
               data_preprocessor=dict(type='SegDataPreProcessor', mean=CLIP_MEAN,
                                      std=CLIP_STD, bgr_to_rgb=True))
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def test_segclip_prediction_is_the_argmax_of_window_averaged_channels():
    """Background channel per window (0/1) averaged with the foreground scores over two
    overlapping windows: the label is the argmax, background first on a tie."""
    model = tiny_segclip()
    img = torch.randn(3, 64, 100)                      # windows at x = 0 and x = 36
    with torch.no_grad():
        out = model.predict(img[None])[0]
        w0 = model.window_logits(img[None, :, :, :64])[0]
        w1 = model.window_logits(img[None, :, :, 36:])[0]
    total = torch.zeros(4, 64, 100)
    count = torch.zeros(1, 64, 100)
    total[:, :, :64] += w0
    total[:, :, 36:] += w1
    count[:, :, :64] += 1
    count[:, :, 36:] += 1
    avg = total / count
    torch.testing.assert_close(out.seg_logits.data, avg)
    assert torch.equal(out.pred_sem_seg.data[0], avg.argmax(0))
    assert set(w0[0].unique().tolist()) <= {0.0, 1.0}


def test_segclip_similarities_use_the_learned_clamped_logit_scale():
    model = tiny_segclip()
    assert model.similarity_scale is None
    with torch.no_grad():
        model.logit_scale.fill_(math.log(50.0))
        assert model.similarity_logit_scale() == pytest.approx(50.0)
        img = torch.randn(1, 3, 64, 64)
        ours = model.window_logits(img)
        model.similarity_scale = 50.0
        fixed = model.window_logits(img)
        model.similarity_scale = None
        model.logit_scale.fill_(math.log(1000.0))       # clamped to max_logit_scale 100
        assert model.similarity_logit_scale() == pytest.approx(100.0)
    torch.testing.assert_close(ours, fixed)


def mae_2d_sincos(embed_dim: int, grid_h: int, grid_w: int) -> np.ndarray:
    """MAE's get_2d_sincos_pos_embed (util/pos_embed.py) for a rectangular grid."""
    gh = np.arange(grid_h, dtype=np.float64)
    gw = np.arange(grid_w, dtype=np.float64)
    grid = np.meshgrid(gw, gh)                          # here w goes first
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_h, grid_w])

    def one_d(dim, pos):
        omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.)
        omega = 1. / 10000**omega
        out = np.einsum('m,d->md', pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    emb_h = one_d(embed_dim // 2, grid[0])              # MAE's "h" half: grid[0] (= w)
    emb_w = one_d(embed_dim // 2, grid[1])
    return np.concatenate([emb_h, emb_w], axis=1)


def test_mae_sincos_table_equals_mae_on_a_2x3_grid():
    from langseg.models.layers import sincos_pos_embed_2d
    ours = sincos_pos_embed_2d(8, (2, 3)).double().numpy()
    np.testing.assert_allclose(ours, mae_2d_sincos(8, 2, 3), atol=1e-6)
    # the first half encodes the column: patches 0 and 3 (same column) share it
    np.testing.assert_allclose(ours[0, :4], ours[3, :4])
    assert not np.allclose(ours[0, 4:], ours[3, 4:])


def test_mae_decoder_layer_norms_use_eps_1e6():
    model = tiny_segclip(pretrainer=True)
    head = model.reconstruction
    decoder_norms = [m for m in head.decoder.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert decoder_norms and all(m.eps == 1e-6 for m in decoder_norms)
    assert head.norm.eps == 1e-6
    encoder_norms = [m for m in head.encoder.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert all(m.eps == 1e-5 for m in encoder_norms)    # CLIP-style blocks keep 1e-5


@pytest.mark.parametrize('quick_gelu', [True, False])
def test_segclip_new_modules_use_the_towers_activation(quick_gelu):
    """OpenAI's CLIP runs QuickGELU: the cross-attention MLPs, the activation after the
    region MLP, Eq. 4's mapping and the two new blocks then use it too (the official);
    a GELU tower gives GELU. The region MLP's inner and the MAE decoder's are GELU."""
    from open_clip.transformer import QuickGELU
    from langseg.models.clip import TINY_CLIP_ARCHITECTURES
    arch = dict(TINY_CLIP_ARCHITECTURES['tiny-vit'], quick_gelu=quick_gelu)
    model = tiny_segclip(pretrainer=True, backbone=dict(arch=arch, pretrained=None,
                                                        plug_layer=2, num_centers=4))
    act = QuickGELU if quick_gelu else torch.nn.GELU
    group = model.encoder.group
    assert model.encoder.act_layer is act
    for block in group.cross_attn:
        assert type(block.mlp[1]) is act
    assert type(group.region_mlp[0][1]) is torch.nn.GELU and type(group.region_mlp[1]) is act
    head = model.reconstruction
    assert type(head.assign_act) is act
    for block in head.encoder:
        assert type(block.mlp.gelu) is act
    for block in head.decoder:
        assert type(block.mlp.gelu) is torch.nn.GELU
    # and Eq. 4 computes act(Linear(M^T) H)
    regions, hard = torch.randn(1, 4, 32), torch.rand(1, 4, 6)
    keep = torch.arange(6)[None]
    seen = {}
    head.encoder[0].register_forward_pre_hook(lambda m, i: seen.update(x=i[0]))
    with torch.no_grad():
        head(regions, hard, keep)
        ref = act()(head.assign_linear(hard.transpose(1, 2)) @ regions)
    torch.testing.assert_close(seen['x'], ref)
