"""SegCLIP: the semantic group module (hard one-hot assignment, straight-through gradient,
deterministic eval, per-image attention), the losses (superpixel KL zero/positive, 25%
visible patches, contrastive against the formula), the image-text data, the zero-shot
segmentor and the toy pretraining run."""
import csv
import json
import os.path as osp
import re
import tarfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import langseg  # noqa: F401
from langseg.methods.segclip import (SegCLIP, SegCLIPPretrainer, SemanticGroupViT,
                                     contrastive_loss, gumbel_assignment,
                                     patch_majority_labels, random_keep_indices,
                                     superpixel_kl_loss)
from langseg.models.layers import sincos_pos_embed_2d
from langseg.utils.errors import ConfigError

from .conftest import REPO

TINY = dict(embed_dim=32, vision_cfg=dict(image_size=64, layers=4, width=32, patch_size=8,
                                          head_width=16),
            text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2))


def tiny_model(**kwargs) -> SegCLIP:
    """The tiny zero-shot segmentor."""
    kwargs.setdefault('short_side', 224)
    torch.manual_seed(0)
    model = SegCLIP(backbone=dict(arch=TINY, plug_layer=2, num_centers=4), **kwargs)
    model.init_weights()
    return model


def tiny_pretrainer(**kwargs) -> SegCLIPPretrainer:
    """The tiny pretraining model (the tiny zero-shot segmentor + the pretraining heads)."""
    kwargs.setdefault('short_side', 224)
    torch.manual_seed(0)
    model = SegCLIPPretrainer(backbone=dict(arch=TINY, plug_layer=2, num_centers=4),
                              decoder=dict(decoder_dim=32, decoder_depth=1, decoder_heads=2,
                                           encoder_depth=1), **kwargs)
    model.init_weights()
    return model


def test_hard_assignment_is_one_hot_with_the_soft_gradient():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7, requires_grad=True)
    noise = -torch.empty(2, 5, 7).exponential_().log()
    hard, _ = gumbel_assignment(logits, tau=0.9, dim=1, noise=noise, training=True)
    assert torch.equal(hard.detach().sum(1), torch.ones(2, 7))                 # one per patch
    assert set(hard.detach().unique().tolist()) <= {0.0, 1.0}
    weights = torch.randn(2, 5, 7)
    grad_hard, = torch.autograd.grad((hard * weights).sum(), logits)
    soft = ((logits + noise) / 0.9).softmax(1)                                 # y_soft
    grad_soft, = torch.autograd.grad((soft * weights).sum(), logits)
    torch.testing.assert_close(grad_hard, grad_soft)
    # eval: no noise, the argmax of the plain softmax
    hard_eval, soft_eval = gumbel_assignment(logits, 0.9, dim=1, training=False)
    assert torch.equal(hard_eval.argmax(1), logits.argmax(1))
    torch.testing.assert_close(soft_eval, logits.softmax(1))


def test_group_vit_is_deterministic_in_eval_and_one_hot():
    torch.manual_seed(0)
    vit = SemanticGroupViT(TINY, plug_layer=2, num_centers=4).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = vit(x), vit(x)
    torch.testing.assert_close(a.embeddings, b.embeddings, rtol=0, atol=0)
    assert a.embeddings.shape == (2, 5, 32) and a.hard.shape == (2, 4, 64)
    assert torch.equal(a.hard.sum(1), torch.ones(2, 64))
    vit.train()
    with torch.no_grad():
        c = vit(x)
    assert torch.equal(c.hard.sum(1), torch.ones(2, 64))


def test_batch_of_two_equals_each_alone():
    """The official code mixes images in its cross-attention; here each image attends
    only to its own patches."""
    torch.manual_seed(0)
    vit = SemanticGroupViT(TINY, plug_layer=2, num_centers=4).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        both = vit(x)
        for i in range(2):
            alone = vit(x[i:i + 1])
            torch.testing.assert_close(alone.regions, both.regions[i:i + 1],
                                       atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(alone.embeddings, both.embeddings[i:i + 1],
                                       atol=1e-5, rtol=1e-5)


def test_region_tokens_follow_eq_3():
    """regions = QuickGELU(MLP(LN(mean of assigned values + center))), 0 for empty."""
    torch.manual_seed(0)
    group = SemanticGroupViT(TINY, plug_layer=2, num_centers=4).group.eval()
    x = torch.randn(1, 10, 32)
    with torch.no_grad():
        out = group(x)
        values = group.value(group.norm_x(x).transpose(1, 2)).transpose(1, 2)[0]
        centers = torch.cat([group.centers[None]], 0)
        for block in group.cross_attn:
            centers = block(centers, torch.cat([centers, x], 1))
        centers = group.norm_centers(centers)[0]
        owner = out.hard[0].argmax(0)
        for c in range(4):
            members = values[owner == c]
            mean = members.mean(0) if len(members) else torch.zeros(32)
            ref = group.region_mlp(group.norm_region(mean + centers[c]))
            torch.testing.assert_close(out.regions[0, c], ref, atol=1e-5, rtol=1e-5)


def test_superpixel_kl_zero_when_constant_inside_superpixels():
    labels = torch.tensor([[0, 0, 1, 1, 1, 2]])
    constant = torch.tensor([[[1., 0.], [1., 0.], [0., 1.], [0., 1.], [0., 1.], [1., 0.]]])
    assert superpixel_kl_loss(constant, labels).item() == pytest.approx(0.0, abs=1e-7)
    split = constant.clone()
    split[0, 3] = torch.tensor([1., 0.])                      # superpixel 1 is split
    loss = superpixel_kl_loss(split, labels)
    assert loss.item() > 1e-3
    # by hand: M rows of superpixel 1 = (1/3, 2/3); KL terms on its three patches
    p = lambda v: torch.softmax(torch.tensor(v), 0)  # noqa: E731
    kl = lambda a, b: (a * (a.log() - b.log())).sum()  # noqa: E731
    m = p([1 / 3, 2 / 3])
    expected = sum(kl(m, p(a)) + kl(p(a), m) for a in ([0., 1.], [1., 0.], [0., 1.]))
    assert loss.item() == pytest.approx(0.5 * expected.item() / (1 * 6 * 2), rel=1e-5)


def test_masking_keeps_what_the_official_keeps():
    """len_keep = int(L * (1 - r)) over the class token and the patches (L = N + 1), the
    class token always kept: 48 patches of 196 at r = 0.75 (not round(196 / 4) = 49)."""
    keep = random_keep_indices(3, 196, 0.75, torch.device('cpu'))
    assert keep.shape == (3, 48)                              # int(197 * 0.25) - 1
    assert all(len(set(row.tolist())) == 48 for row in keep) and keep.min() >= 0
    assert keep.max() < 196
    # a hand-computed case: 4 patches, r = 0.5 -> int(5 * 0.5) = 2 tokens: the class token
    # and the patch of the lowest noise among the patches' (token i + 1 = patch i)
    g = torch.Generator().manual_seed(3)
    noise = torch.rand(2, 5, generator=torch.Generator().manual_seed(3))
    expected = [[min(range(4), key=lambda i: row[i + 1].item())] for row in noise]
    assert random_keep_indices(2, 4, 0.5, torch.device('cpu'), g).tolist() == expected
    # 16 patches, r = 0.75: int(17 * 0.25) = 4 tokens -> the 3 patches of lowest noise
    noise = torch.rand(2, 17, generator=torch.Generator().manual_seed(5))
    expected = [sorted(range(16), key=lambda i: row[i + 1].item())[:3] for row in noise]
    got = random_keep_indices(2, 16, 0.75, torch.device('cpu'),
                              torch.Generator().manual_seed(5))
    assert got.tolist() == expected
    with pytest.raises(ConfigError, match='leaves no visible patch'):
        random_keep_indices(1, 4, 0.7, torch.device('cpu'))   # int(5 * 0.3) = 1: CLS only
    # the model's masked branch (64 patches: int(65 * 0.25) - 1 = 15) sees those patches
    noise = torch.rand(2, 65, generator=torch.Generator().manual_seed(5))
    expected = [sorted(range(64), key=lambda i: row[i + 1].item())[:15] for row in noise]
    model = tiny_pretrainer(losses=('reconstruction', ))
    seen = {}
    hook = model.reconstruction.register_forward_pre_hook(
        lambda m, args: seen.update(keep=args[2]))
    loss = model.reconstruction_loss(torch.randn(2, 3, 64, 64),
                                     torch.Generator().manual_seed(5))
    hook.remove()
    assert seen['keep'].tolist() == expected
    assert torch.isfinite(loss) and loss > 0


def test_contrastive_loss_equals_eq_8_to_10():
    torch.manual_seed(0)
    img = F.normalize(torch.randn(4, 8), dim=-1)
    txt = F.normalize(torch.randn(4, 8), dim=-1)
    s = torch.tensor(20.0)
    sim = s * img @ txt.T
    l_i2t = -sum(torch.log(sim[i].exp()[i] / sim[i].exp().sum()) for i in range(4)) / 4
    l_t2i = -sum(torch.log(sim[:, i].exp()[i] / sim[:, i].exp().sum()) for i in range(4)) / 4
    torch.testing.assert_close(contrastive_loss(img, txt, s), 0.5 * (l_i2t + l_t2i))


def test_sincos_positions_and_patch_majority():
    pos = sincos_pos_embed_2d(8, (2, 3))
    assert pos.shape == (6, 8)
    # patch (row 1, col 2): column part first [sin(2 w), cos(2 w)], then the row's
    # [sin(1 w), cos(1 w)], as MAE's table (np.meshgrid(grid_w, grid_h))
    w = torch.tensor([1.0, 1 / 10000**0.5])
    torch.testing.assert_close(pos[5], torch.cat([torch.sin(2 * w), torch.cos(2 * w),
                                                  torch.sin(w), torch.cos(w)]))
    ids = np.array([[1, 1, 2, 2], [1, 3, 2, 2], [5, 5, 7, 7], [5, 6, 7, 8]])
    assert patch_majority_labels(ids, 2).tolist() == [1, 2, 5, 7]


def test_lr_groups_follow_the_reference():
    from mmengine.optim import build_optim_wrapper
    model = tiny_pretrainer()
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=4e-3, weight_decay=0.05),
        constructor='LRGroupsOptimWrapperConstructor',
        paramwise_cfg=dict(group_lrs=dict(low=4e-6, high=4e-3))))
    lr_of = {id(p): g['lr'] for g in wrapper.optimizer.param_groups for p in g['params']}
    named = dict(model.named_parameters())
    seg = 'segmentor.'
    assert lr_of[id(named[seg + 'backbone.visual.transformer.resblocks.1.attn.in_proj_weight'])] \
        == 4e-6
    assert lr_of[id(named[seg + 'backbone.visual.transformer.resblocks.2.attn.in_proj_weight'])] \
        == 4e-3
    assert lr_of[id(named[seg + 'backbone.group.centers'])] == 4e-3
    assert lr_of[id(named[seg + 'text_encoder.text.transformer.resblocks.0.mlp.c_fc.weight'])] \
        == 4e-6
    assert lr_of[id(named[seg + 'logit_scale'])] == 4e-6
    assert lr_of[id(named['reconstruction.mask_token'])] == 4e-3
    for frozen in ('backbone.visual.conv1.weight', 'backbone.visual.positional_embedding',
                   'text_encoder.text.token_embedding.weight',
                   'text_encoder.text.positional_embedding'):
        assert id(named[seg + frozen]) not in lr_of and not named[seg + frozen].requires_grad


def test_image_text_datasets(tmp_path):
    from langseg.methods.segclip import (COCOCaptionsDataset, ImageTextCSVDataset,
                                         ImageTextTarDataset)
    from langseg.utils.errors import DataError
    official = dict(images=[dict(id=1, file_name='a.jpg'), dict(id=2, file_name='b.jpg')],
                    annotations=[dict(image_id=1, caption='a cat '), dict(image_id=2, caption='x'),
                                 dict(image_id=1, caption='a small cat')])
    (tmp_path / 'cap.json').write_text(json.dumps(official))
    ds = COCOCaptionsDataset(ann_file=str(tmp_path / 'cap.json'),
                             data_prefix=dict(img_path='imgs'), lazy_init=False)
    assert [(d['img_path'], d['caption']) for d in ds] == [
        ('imgs/a.jpg', 'a cat'), ('imgs/b.jpg', 'x'), ('imgs/a.jpg', 'a small cat')]
    karpathy = dict(images=[
        dict(filepath='train2014', filename='a.jpg', split='train',
             sentences=[dict(raw='one'), dict(raw='two')]),
        dict(filepath='val2014', filename='b.jpg', split='test', sentences=[dict(raw='no')]),
        dict(filepath='val2014', filename='c.jpg', split='restval', sentences=[dict(raw='three')])])
    (tmp_path / 'karpathy.json').write_text(json.dumps(karpathy))
    ds = COCOCaptionsDataset(ann_file=str(tmp_path / 'karpathy.json'),
                             data_prefix=dict(img_path='coco'))
    assert [d['caption'] for d in ds] == ['one', 'two']       # Karpathy train only
    assert ds[0]['img_path'] == 'coco/train2014/a.jpg'
    ds = COCOCaptionsDataset(ann_file=str(tmp_path / 'karpathy.json'),
                             data_prefix=dict(img_path='coco'), splits=('train', 'restval'))
    assert [d['caption'] for d in ds] == ['one', 'two', 'three']
    with open(tmp_path / 'pairs.tsv', 'w', newline='') as f:
        w = csv.writer(f, delimiter='\t')
        w.writerows([['image', 'caption'], ['x/1.jpg', 'a dog'], ['x/2.jpg', 'two, cats']])
    ds = ImageTextCSVDataset(ann_file=str(tmp_path / 'pairs.tsv'), data_root=str(tmp_path))
    assert ds[1]['caption'] == 'two, cats' and ds[1]['img_path'] == str(tmp_path / 'x/2.jpg')
    with pytest.raises(DataError, match="lacks the columns \\['text'\\]"):
        ImageTextCSVDataset(ann_file=str(tmp_path / 'pairs.tsv'), caption_key='text')
    # a webdataset shard: key.jpg + key.txt
    import cv2
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, :15] = 255
    ok, jpg = cv2.imencode('.png', img)
    shard = tmp_path / 'shard-000.tar'
    with tarfile.open(shard, 'w') as tar:
        for key, cap in (('0001', 'white left'), ('0002', 'no image')):
            for ext, data in ((('png', jpg.tobytes()), ('txt', cap.encode()))
                              if key == '0001' else (('txt', cap.encode()), )):
                info = tarfile.TarInfo(f'{key}.{ext}')
                info.size = len(data)
                import io
                tar.addfile(info, io.BytesIO(data))
    ds = ImageTextTarDataset(ann_file=str(shard))
    assert len(ds) == 1 and ds[0]['caption'] == 'white left'
    from langseg.methods.segclip.image_text_data import LoadImageTextImage
    loaded = LoadImageTextImage()(dict(ds[0]))
    assert loaded['img'].shape == (20, 30, 3) and loaded['img'][0, 0, 0] == 255


def test_pretraining_pipeline_superpixels_follow_the_crop(tmp_path):
    from langseg.methods.segclip.image_text_data import (
        FelzenszwalbSuperpixels, RandomResizedCropWithSuperpixels)
    import cv2
    img = np.zeros((120, 160, 3), np.uint8)
    img[:, 80:] = (0, 0, 255)
    path = str(tmp_path / 'two.png')
    cv2.imwrite(path, img)
    sp = FelzenszwalbSuperpixels(short_side=120, cache_dir=str(tmp_path / 'cache'))
    res = sp(dict(img=img, img_path=path))
    ids = res['superpixels']
    assert ids.shape == (120, 160) and len(np.unique(ids)) == 2
    assert len(np.unique(ids[:, :80])) == 1 and ids[0, 0] != ids[0, 159]
    cached = sp(dict(img=img * 0, img_path=path))['superpixels']       # read from the cache
    assert np.array_equal(cached, ids)
    crop = RandomResizedCropWithSuperpixels(size=64)
    for seed in range(20):
        np.random.seed(seed)                           # the crop draws from np.random
        out = crop(dict(img=img.copy(), superpixels=ids.copy()))
        # the superpixel boundary stays on the colour boundary after the crop: every pixel
        # whose colour is decided (not blended by the bicubic resize) agrees
        red_value = out['img'][..., 2].astype(int)
        decided = (red_value < 64) | (red_value > 192)
        assert decided.mean() > 0.9
        in_red_superpixel = out['superpixels'] == ids[0, 159]
        assert np.array_equal(in_red_superpixel[decided], red_value[decided] > 192)


def test_zero_shot_segmentor_background_and_top_k():
    model = tiny_model(class_names=['background', 'cat', 'dog', 'car'], bg_thresh=0.8,
                       top_k=2).eval()
    img = torch.randn(3, 70, 90)
    with torch.no_grad():
        out = model.predict(img[None])[0]
        scores = model.window_logits(img[None, :, :64, :64])
    logits = out.seg_logits.data
    assert logits.shape == (4, 70, 90)
    assert out.pred_sem_seg.data.max() <= 3
    # at most top_k foreground classes have a non-zero score in a window
    assert int((scores[0, 1:].flatten(1).amax(1) > 0).sum()) <= 2
    # the background channel of a window is 0/1 (the per-window rule, test_parity.py)
    assert set(scores[0, 0].unique().tolist()) <= {0.0, 1.0}
    pred = out.pred_sem_seg.data[0]
    assert torch.equal(pred, logits.argmax(0))
    # the text is encoded once for many images (cached until the tower's weights change)
    calls = []
    hook = model.text_encoder.text.transformer.register_forward_hook(
        lambda *a: calls.append(1))
    model.text_encoder.invalidate_cache()
    with torch.no_grad():
        model.predict(torch.randn(3, 3, 64, 64))
        model.predict(torch.randn(2, 3, 64, 64))
    assert len(calls) == 1  # all prompts in one forward, not per class, image or window
    # new weights (a checkpoint loaded, load_state_dict) invalidate the cache; in training
    # the tower is re-encoded at every call (the pretrainer's steps)
    state = {k: v + 1e-3 if k.startswith('text_encoder.text.transformer.') else v
             for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    with torch.no_grad():
        model.predict(torch.randn(1, 3, 64, 64))
    hook.remove()
    assert len(calls) == 2
    def orig(tokens):       # the text tower's EOT features, normalised (independent path)
        return F.normalize(model.text_encoder.encode_tokens(tokens), dim=-1)
    # equals the per-class mean of the normalised prompt features, renormalised
    from langseg.models.clip import tokenize
    with torch.no_grad():
        for row, name in zip(model.class_embeddings(), ['cat', 'dog', 'car']):
            feats = orig(tokenize([t.format(name) for t in model.text_encoder.templates],
                                  model.text_encoder.context_length))
            torch.testing.assert_close(row, F.normalize(feats.mean(0), dim=-1))


def test_batched_windows_equal_one_window_at_a_time():
    model = tiny_model(class_names=['background', 'cat', 'dog', 'car'], top_k=2).eval()
    img = torch.randn(1, 3, 70, 150)       # short side 224: 224 x 480, three windows
    with torch.no_grad():
        batched = model.predict(img)[0].seg_logits.data
        model.windows.batch_size = 1
        single = model.predict(img)[0].seg_logits.data
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-6)


def test_padding_never_enters_the_prediction():
    from mmseg.structures import SegDataSample
    model = tiny_model(class_names=['background', 'cat', 'dog', 'car'], top_k=2).eval()
    img = torch.randn(1, 3, 50, 70)
    padded = F.pad(img, (0, 30, 0, 14))                # bottom-right, as mmseg pads
    sample = SegDataSample(metainfo=dict(img_shape=(50, 70), ori_shape=(50, 70)))
    with torch.no_grad():
        alone = model.predict(img)[0].seg_logits.data
        in_batch = model.predict(padded, [sample])[0].seg_logits.data
    torch.testing.assert_close(in_batch, alone)


def test_unknown_loss_and_bad_plug_layer_are_refused():
    from langseg.utils.errors import ConfigError
    with pytest.raises(ConfigError, match='unknown SegCLIP losses'):
        SegCLIPPretrainer(backbone=dict(arch=TINY, plug_layer=2),
                          losses=('contrastive', 'mse'))
    with pytest.raises(ConfigError, match='plug_layer must be in 1..3'):
        SemanticGroupViT(TINY, plug_layer=4)


SEGCLIP_CONFIGS = sorted(osp.basename(p) for p in __import__('glob').glob(
    osp.join(REPO, 'configs', 'segclip', '*.py')))


def test_segclip_configs_exist():
    names = set(SEGCLIP_CONFIGS)
    assert 'segclip_vit-b16_8xb96-10e_cc3m-coco.py' in names
    for ds in ('voc21', 'context60', 'coco-object', 'ade20k', 'cityscapes'):
        assert f'segclip_vit-b16_{ds}.py' in names


@pytest.mark.slow
def test_toy_pretraining_halves_the_contrastive_loss_and_beats_the_untrained_model(
        tmp_path):
    """The acceptance run: the tiny SegCLIP on the toy image-text set (CPU), the config's
    own data (3000 captioned training images, generated on first use)."""
    from .conftest import run_tool
    toy_root = str(tmp_path / 'toy')
    config = osp.join(REPO, 'configs', 'toy', 'segclip_tiny-vit_1xb32-400_toy-image-text.py')
    opts = ['--cfg-options', f'train_dataloader.dataset.data_root={toy_root}',
            f'train_dataloader.dataset.data_prefix.img_path={toy_root}',
            f'train_dataloader.dataset.pipeline.1.cache_dir={toy_root}/superpixel_cache',
            f'val_dataloader.dataset.data_root={toy_root}',
            f'test_dataloader.dataset.data_root={toy_root}']
    before = run_tool('test.py', config, '--no-checkpoint', '--work-dir',
                      str(tmp_path / 'before'), *opts)
    assert before.returncode == 0, before.stderr[-3000:]
    miou_before = float(re.findall(r'mIoU: ([\d.]+)', before.stdout + before.stderr)[-1])
    proc = run_tool('train.py', config, '--work-dir', str(tmp_path / 'train'), *opts)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    losses = [float(x) for x in re.findall(r'loss_contrastive: ([\d.]+)', out)]
    miou_after = float(re.findall(r'mIoU: ([\d.]+)', out)[-1])
    print(f'contrastive {losses[0]:.3f} -> {losses[-1]:.3f}; '
          f'zero-shot toy mIoU before {miou_before:.2f}, after {miou_after:.2f}')
    assert losses[-1] <= 0.5 * losses[0]
    assert miou_after > miou_before


TINY_ZERO_SHOT = """
model = dict(backbone=dict(arch={tiny!r}, pretrained=None, plug_layer=2, num_centers=4),
             data_preprocessor=dict(size=None),
             slide_crop=32, slide_stride=32, short_side=32)
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root='{root}'))
val_dataloader = test_dataloader
"""


@pytest.mark.parametrize('benchmark', ['voc21', 'context60', 'coco-object', 'ade20k',
                                       'cityscapes'])
def test_zero_shot_config_evaluates_end_to_end(benchmark, tmp_path):
    from .conftest import run_tool, write_config
    from .test_proxyclip_benchmarks import make_dataset
    root = str(tmp_path / 'data')
    make_dataset(root, benchmark)
    config = write_config(str(tmp_path / 'cfg.py'),
                          osp.join(REPO, 'configs', 'segclip',
                                   f'segclip_vit-b16_{benchmark}.py'),
                          TINY_ZERO_SHOT.format(root=root, tiny=dict(_delete_=True, **TINY)))
    proc = run_tool('test.py', config, '--no-checkpoint', '--work-dir', str(tmp_path / 'work'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    miou = re.findall(r'mIoU: ([\d.]+)', proc.stdout + proc.stderr)
    assert miou and 0.0 <= float(miou[-1]) <= 100.0
    print(f'{benchmark}: tools/test.py mIoU {float(miou[-1]):.2f} (random tiny model)')


@pytest.mark.slow
def test_pretraining_config_trains_an_epoch_on_generated_pairs(tmp_path):
    """The CC3M + COCO pretraining config, unchanged but for the tiny model and the data
    roots: a TSV set and a Karpathy-split COCO set of generated images, one epoch, then
    the zero-shot VOC val loop."""
    import cv2
    from .conftest import run_tool, write_config
    from .test_proxyclip_benchmarks import make_dataset
    rng = np.random.default_rng(0)
    cc = tmp_path / 'cc3m'
    (cc / 'img').mkdir(parents=True)
    (tmp_path / 'coco' / 'train2014').mkdir(parents=True)
    rows = [['image', 'caption']]
    for i in range(3):
        cv2.imwrite(str(cc / 'img' / f'{i}.jpg'), rng.integers(0, 255, (80, 100, 3), np.uint8))
        rows.append([f'img/{i}.jpg', f'a photo number {i}'])
        cv2.imwrite(str(tmp_path / 'coco' / 'train2014' / f'{i}.jpg'),
                    rng.integers(0, 255, (90, 70, 3), np.uint8))
    with open(cc / 'train.tsv', 'w', newline='') as f:
        csv.writer(f, delimiter='\t').writerows(rows)
    karpathy = dict(images=[dict(filepath='train2014', filename=f'{i}.jpg', split='train',
                                 sentences=[dict(raw=f'coco caption {i}')]) for i in range(3)])
    (tmp_path / 'coco' / 'dataset_coco.json').write_text(json.dumps(karpathy))
    voc = str(tmp_path / 'voc')
    make_dataset(voc, 'voc21')
    body = f"""
    model = dict(backbone=dict(arch={dict(_delete_=True, **TINY)!r}, pretrained=None,
                               plug_layer=2, num_centers=4),
                 data_preprocessor=dict(size=(64, 64)),
                 decoder=dict(decoder_dim=32, decoder_depth=1, decoder_heads=2),
                 slide_crop=32, slide_stride=32, short_side=32)
    superpixel_cache = '{tmp_path / "sp_cache"}'
    _pipe = [
        dict(type='LoadImageTextImage'),
        dict(type='FelzenszwalbSuperpixels', min_size=20, short_side=64,
             cache_dir=superpixel_cache),
        dict(type='RandomResizedCropWithSuperpixels', size=64, scale=(0.5, 1.0)),
        dict(type='SuperpixelPatchLabels', patch_size=8),
        dict(type='CLIPTokenize', context_length=32),
        dict(type='PackImageTextInputs'),
    ]
    train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
        dataset=dict(datasets=[
            dict(type='ImageTextCSVDataset', data_root='{cc}', ann_file='{cc / "train.tsv"}',
                 pipeline=_pipe),
            dict(type='COCOCaptionsDataset', ann_file='{tmp_path / "coco" / "dataset_coco.json"}',
                 data_prefix=dict(img_path='{tmp_path / "coco"}'), pipeline=_pipe)]))
    val_dataloader = dict(num_workers=0, persistent_workers=False,
                          dataset=dict(data_root='{voc}'))
    test_dataloader = val_dataloader
    max_epochs = 1
    train_cfg = dict(max_epochs=1)
    param_scheduler = [dict(type='LinearLR', start_factor=0.5, by_epoch=True, begin=0,
                            end=0.5, convert_to_iter_based=True),
                       dict(type='CosineAnnealingLR', by_epoch=True, begin=0.5, end=1,
                            convert_to_iter_based=True)]
    default_hooks = dict(logger=dict(interval=1))
    """
    config = write_config(str(tmp_path / 'cfg.py'), osp.join(
        REPO, 'configs', 'segclip', 'segclip_vit-b16_8xb96-10e_cc3m-coco.py'), body)
    proc = run_tool('train.py', config, '--work-dir', str(tmp_path / 'work'))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for key in ('loss_contrastive', 'loss_reconstruction', 'loss_superpixel', 'mIoU'):
        assert key in out, key
    assert len(list((tmp_path / 'sp_cache').glob('*.npy'))) == 6   # superpixels cached


def _gather_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist
    from langseg.methods.segclip.losses import contrastive_loss, gather_with_grad
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world)
    torch.manual_seed(0)
    img = F.normalize(torch.randn(4, 8), dim=-1)
    txt = F.normalize(torch.randn(4, 8), dim=-1)
    local_img = img[2 * rank:2 * rank + 2].clone().requires_grad_(True)
    local_txt = txt[2 * rank:2 * rank + 2].clone().requires_grad_(True)
    loss = contrastive_loss(gather_with_grad(local_img), gather_with_grad(local_txt),
                            torch.tensor(10.0))
    loss.backward()
    torch.save(dict(loss=loss.detach(), grad_img=local_img.grad, grad_txt=local_txt.grad),
               osp.join(out_dir, f'rank{rank}.pt'))
    dist.destroy_process_group()


def test_contrastive_features_are_gathered_with_gradient(tmp_path):
    """Two processes, two pairs each: the loss is the global-batch loss, and each
    process's features receive world_size x the full-batch gradient (every process holds
    the same loss; DDP's gradient averaging then gives the single-process gradient)."""
    import torch.multiprocessing as mp
    mp.spawn(_gather_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2)
    torch.manual_seed(0)
    img = F.normalize(torch.randn(4, 8), dim=-1).requires_grad_(True)
    txt = F.normalize(torch.randn(4, 8), dim=-1).requires_grad_(True)
    loss = contrastive_loss(img, txt, torch.tensor(10.0))
    loss.backward()
    for rank in range(2):
        got = torch.load(tmp_path / f'rank{rank}.pt', weights_only=True)
        torch.testing.assert_close(got['loss'], loss.detach())
        torch.testing.assert_close(got['grad_img'], 2 * img.grad[2 * rank:2 * rank + 2])
        torch.testing.assert_close(got['grad_txt'], 2 * txt.grad[2 * rank:2 * rank + 2])


def test_flops_of_a_zero_shot_config_count_the_text_classifier_path():
    """tensor mode is the zero-shot graph: region-text scores of the 20 prompted VOC
    classes plus the background channel, with the region assignment upsampled to the
    window; the (cached) text encoder's uncached cost is reported apart."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from langseg.engine.config import strip_pretrained_weights
    from langseg.evaluation.flops import count_segmentor
    cfg = Config.fromfile(osp.join(REPO, 'configs/segclip/segclip_vit-b16_voc21.py'))
    model_cfg = strip_pretrained_weights(cfg.model.to_dict())
    model_cfg['backbone'].update(arch=TINY, plug_layer=2, num_centers=4)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64), None, mode='tensor')
    assert out.shape == (1, 21, 64, 64)
    result = count_segmentor(model, (64, 64))
    assert result['text_gflops'] > 0                      # 20 prompts through the tower
    scoring = result['gflops'] - result['by_module']['backbone']
    # the one-hot region map (64 x 64 x 4 regions) times the region-class scores (4 x 20)
    assert scoring * 1e9 >= 64 * 64 * 4 * 20


def test_zero_shot_segmentor_is_training_free_and_the_rule_maps_pretraining_keys():
    """The zero-shot SegCLIP keeps its base's 'training-free' loss; the checkpoint rule
    maps segmentor.* -> * and drops reconstruction.* (an unknown key stays unexpected)."""
    from langseg.methods.segclip import zero_shot_state_dict
    from langseg.utils.errors import LangsegError
    model = tiny_model(class_names=['background', 'cat'])
    with pytest.raises(LangsegError, match='training-free'):
        model.loss(torch.randn(1, 3, 64, 64), [])
    w = torch.zeros(1)
    assert zero_shot_state_dict({'segmentor.backbone.a': w, 'segmentor.logit_scale': w,
                                 'reconstruction.mask_token': w, 'other.b': w}) \
        == {'backbone.a': w, 'logit_scale': w, 'other.b': w}
    assert zero_shot_state_dict({'backbone.a': w, 'reconstruction.x': w}) == {'backbone.a': w}
    pretrainer = tiny_pretrainer(class_names=['background', 'cat'])
    with torch.no_grad():
        pretrainer.segmentor.backbone.group.centers.add_(1.0)
    model.load_state_dict(pretrainer.state_dict())                 # strict
    torch.testing.assert_close(model.backbone.group.centers,
                               pretrainer.segmentor.backbone.group.centers)


@pytest.mark.slow
def test_pretraining_checkpoint_loads_into_the_zero_shot_config(tmp_path):
    """Two iterations of the toy pretraining config through tools/train.py; its checkpoint
    (keys segmentor.*, reconstruction.*) then loads into the toy zero-shot config by the
    checkpoint rule: tools/test.py's strict key check passes and evaluates it, and mmseg's
    init_model gives the encoder, text tower and logit scale of the checkpoint."""
    from mmseg.apis import init_model

    from .conftest import run_tool, write_config
    small = dict(num_train=16, num_val=4, size=96, seed=0)
    body = f"""
    toy_generate = {small!r}
    train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                            dataset=dict(generate=toy_generate))
    val_dataloader = dict(num_workers=0, persistent_workers=False,
                          dataset=dict(generate=toy_generate))
    test_dataloader = val_dataloader
    train_cfg = dict(max_iters=2, val_interval=2)
    default_hooks = dict(checkpoint=dict(interval=2))
    """
    pretrain = write_config(str(tmp_path / 'pretrain.py'), osp.join(
        REPO, 'configs/toy/segclip_tiny-vit_1xb32-400_toy-image-text.py'), body)
    zero_shot = write_config(str(tmp_path / 'zero_shot.py'), osp.join(
        REPO, 'configs/toy/segclip_tiny-vit_toy-shapes.py'), """
    test_dataloader = dict(num_workers=0, persistent_workers=False,
                           dataset=dict(generate=dict(num_train=16, num_val=4, size=96,
                                                      seed=0)))
    """)
    # data_root 'data/toy_shapes' is relative: run from a fresh folder, as documented
    proc = run_tool('train.py', pretrain, '--work-dir', str(tmp_path / 'work'),
                    cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    checkpoint = str(tmp_path / 'work' / 'iter_2.pth')
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)['state_dict']
    assert any(k.startswith('reconstruction.') for k in state)
    assert all(k.startswith(('segmentor.', 'reconstruction.')) for k in state)
    proc = run_tool('test.py', zero_shot, checkpoint, '--work-dir',
                    str(tmp_path / 'test'), cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.findall(r'mIoU: ([\d.]+)', proc.stdout + proc.stderr)
    model = init_model(zero_shot, checkpoint, device='cpu')
    assert type(model) is SegCLIP
    own = model.state_dict()
    assert set(own) == {k[len('segmentor.'):] for k in state if k.startswith('segmentor.')}
    for key, value in own.items():
        torch.testing.assert_close(value, state['segmentor.' + key], rtol=0, atol=0,
                                   msg=key)
