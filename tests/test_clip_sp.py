"""CLIP-SP parts: ASL against Ridnik et al.'s formula, the batch-drop schedule, scene-label
selection, the auxiliary targets, the co-occurrence tool and multi-label mAP."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

import langseg  # noqa: F401
from langseg.methods.clip_sp import (AsymmetricLoss, BatchDropHook, MultiLabelMAP,
                                     asymmetric_loss, average_precision, batch_drop_ratio,
                                     scene_attention_targets, select_scene_labels)
from langseg.utils.errors import ConfigError

from .conftest import REPO


def asl_by_hand(logit, y, gamma_neg, gamma_pos, clip):
    """Ridnik et al. 2021, Eq. 3-7, for one logit written with math."""
    p = 1 / (1 + math.exp(-logit))
    if y == 1:
        return -((1 - p)**gamma_pos) * math.log(p)
    pm = max(p - clip, 0.0)
    return -(pm**gamma_neg) * math.log(1 - pm) if pm > 0 else 0.0


@pytest.mark.parametrize('gamma_neg,gamma_pos,clip', [(4, 0, 0.05), (2, 1, 0.0), (4, 1, 0.2)])
def test_asl_equals_the_formula_on_hand_made_cases(gamma_neg, gamma_pos, clip):
    logits = torch.tensor([[2.0, -1.0, 0.3], [-3.0, 0.0, 4.0]])
    targets = torch.tensor([[1, 0, 0], [0, 1, 1]])
    per = asymmetric_loss(logits, targets, gamma_neg, gamma_pos, clip, reduction='none')
    for i in range(2):
        for j in range(3):
            expected = asl_by_hand(float(logits[i, j]), int(targets[i, j]), gamma_neg,
                                   gamma_pos, clip)
            assert float(per[i, j]) == pytest.approx(expected, rel=1e-5, abs=1e-7)
    assert float(asymmetric_loss(logits, targets, gamma_neg, gamma_pos, clip)) == \
        pytest.approx(float(per.mean()), rel=1e-6)
    # the clip shifts easy negatives to zero loss: p = sigmoid(-3) = 0.047 < 0.05
    if clip == 0.05:
        assert float(per[1, 0]) == 0.0
    loss = AsymmetricLoss(gamma_neg, gamma_pos, clip, loss_weight=10.0)
    assert float(loss(logits, targets)) == pytest.approx(10 * float(per.mean()), rel=1e-6)


def test_batch_drop_ratio_follows_the_schedule():
    assert batch_drop_ratio(0) == pytest.approx(0.9)
    assert batch_drop_ratio(1000) == pytest.approx(0.9 * 0.9999**1000)     # 0.8143
    assert batch_drop_ratio(20000) == pytest.approx(0.9 * 0.9999**20000)   # 0.1218
    assert batch_drop_ratio(100000) == pytest.approx(0.1)                  # floor r_end
    assert batch_drop_ratio(21973) == pytest.approx(0.1, abs=1e-4)
    assert batch_drop_ratio(500, r_start=1.0, r_end=0.0) == pytest.approx(0.9999**500)
    with pytest.raises(ConfigError, match='r_start=0.1, r_end=0.5'):
        BatchDropHook(r_start=0.1, r_end=0.5)


def test_scene_labels_top_k_and_batch_drop():
    probs = torch.tensor([[0.9, 0.1, 0.8, 0.3, 0.2],
                          [0.05, 0.6, 0.7, 0.1, 0.9]])
    idx, val, dropped = select_scene_labels(probs, 2)
    assert idx.tolist() == [[0, 2], [4, 2]] and not dropped.any()
    torch.testing.assert_close(val, torch.tensor([[0.9, 0.8], [0.9, 0.7]]))
    present = torch.tensor([[False, True, False, True, False],
                            [True, False, False, False, False]])
    g = torch.Generator().manual_seed(0)
    idx, val, dropped = select_scene_labels(probs, 2, present, drop_ratio=1.0, generator=g)
    assert dropped.all()
    assert sorted(idx[0].tolist()) == [1, 3] and val[0].tolist() == [1.0, 1.0]
    # one GT class, the other slot is the best remaining prediction (class 4, 0.9)
    assert idx[1].tolist() == [0, 4] and val[1].tolist() == [1.0, pytest.approx(0.9)]
    idx, _, dropped = select_scene_labels(probs, 2, present, drop_ratio=0.5, generator=g)
    assert int(dropped.sum()) == 1


def test_auxiliary_targets_mark_exactly_the_pixels_in_the_top_k():
    gt = torch.tensor([[[0, 2, 2], [4, 255, 1]]])          # 1 x 2 x 3
    indices = torch.tensor([[2, 4]])                        # selected labels
    target = scene_attention_targets(gt, indices)
    assert target.tolist() == [[[255, 0, 0], [1, 255, 255]]]
    inside = torch.isin(gt, indices[0])
    assert torch.equal(target != 255, inside)


def test_cooccurrence_tool_against_a_hand_count(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'compute_cooccurrence', osp.join(REPO, 'tools', 'compute_cooccurrence.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    labels = [np.array([[0, 1], [1, 255]]), np.array([[2, 2], [0, 0]]),
              np.array([[1, 2], [3, 3]])]
    files = []
    for i, lab in enumerate(labels):
        path = tmp_path / f'{i}.png'
        Image.fromarray(lab.astype(np.uint8)).save(path)
        files.append(str(path))
    m = tool.cooccurrence(files, 4, progress=False)
    expected = np.zeros((4, 4), int)
    for present in ({0, 1}, {0, 2}, {1, 2, 3}):
        for i in present:
            for j in present:
                expected[i, j] += 1
    assert (m == expected).all() and (m == m.T).all()
    assert m.diagonal().tolist() == [2, 2, 2, 1]   # images per class
    reduced = tool.cooccurrence(files, 3, reduce_zero_label=True, progress=False)
    assert reduced.diagonal().tolist() == [2, 2, 1]  # 1->0, 2->1, 3->2; 0 ignored


def test_cooccurrence_tool_on_toy_data(tmp_path, toy_root):
    from .conftest import run_tool, tiny_toy_body, write_config
    cfg = write_config(str(tmp_path / 'cfg.py'), osp.join(
        REPO, 'configs/toy/fpn_mobilenetv2-tiny_1xb8-1000_toy-96x96.py'), tiny_toy_body(toy_root))
    out = tmp_path / 'cooc.npz'
    proc = run_tool('compute_cooccurrence.py', cfg, '--out', str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = np.load(out)
    m = data['matrix']
    assert (m == m.T).all() and m.shape == (10, 10)
    assert m[0, 0] == int(data['num_images'])  # background is in every toy image
    bad = run_tool('compute_cooccurrence.py', cfg, '--out', str(tmp_path / 'x.txt'))
    assert bad.returncode == 2


def test_multilabel_map_on_a_hand_made_case():
    scores = np.array([0.9, 0.8, 0.3, 0.1])
    positives = np.array([1, 0, 1, 0])
    assert average_precision(scores, positives) == pytest.approx((1 / 1 + 2 / 3) / 2)
    metric = MultiLabelMAP()
    gts = [torch.tensor([[[0, 1]]]), torch.tensor([[[1, 1]]])]
    preds = [torch.tensor([0.9, 0.2]), torch.tensor([0.8, 0.7])]
    metric.process(None, [dict(pred_multilabel=p, gt_sem_seg=dict(data=g))
                          for p, g in zip(preds, gts)])
    # class 0: positives {img0}; ranking img0 (0.9), img1 (0.8) -> AP 1
    # class 1: positives {img0, img1}; AP 1
    assert metric.compute_metrics(metric.results)['mAP'] == pytest.approx(100.0)


def test_clip_sp_trains_and_evaluates_on_toy_data(tmp_path, toy_root):
    import re

    from .conftest import run_tool, tiny_toy_body, write_config
    cfg = write_config(str(tmp_path / 'cfg.py'), osp.join(
        REPO, 'configs/toy/clipsp_tiny-rn_1xb8-1000_toy-96x96.py'),
        tiny_toy_body(toy_root, max_iters=6, val_interval=6, ckpt_interval=6))
    proc = run_tool('train.py', cfg, '--work-dir', str(tmp_path / 'w'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    for key in ('fusion.loss_asl', 'fusion.loss_scene_aux', 'decode.loss_ce'):
        assert key in out
    val = re.findall(r'Iter\(val\) .*mIoU: ([\d.]+).*mAP: ([\d.]+)', out)
    assert val, out[-2000:]
    miou, map_ = map(float, val[-1])
    assert 0 <= miou <= 100 and 0 < map_ <= 100
    print(f'CLIP-SP toy (6 iterations): mIoU {miou:.2f}, multi-label mAP {map_:.2f}')


def test_dual_graphformer_reads_the_cooccurrence_prior(tmp_path):
    from langseg.methods.clip_sp import DualGraphFormerDecoder
    matrix = np.array([[4, 2, 0], [2, 2, 1], [0, 1, 3]])
    path = tmp_path / 'cooc.npz'
    np.savez(path, matrix=matrix, class_names=np.array(['a', 'b', 'c']), num_images=5)
    dec = DualGraphFormerDecoder(dim=16, num_classes=3, num_blocks=2, num_nodes=4,
                                 num_heads=2, cooccurrence=str(path))
    dec.init_weights()
    expected = torch.tensor(matrix / matrix.diagonal()[:, None], dtype=torch.float32)
    for block in dec.blocks:
        torch.testing.assert_close(block.text_graph.adjacency.weight[..., 0], expected)
    logits = dec(torch.randn(2, 5, 16), torch.randn(2, 3, 16))
    assert logits.shape == (2, 3)
    bad = DualGraphFormerDecoder(dim=16, num_classes=4, cooccurrence=str(path))
    with pytest.raises(ConfigError, match='expected 4 x 4'):
        bad.init_weights()


# CLIP-SP's own configs (the folder also holds Table 1's `*` comparison rows, fpn_* and
# denseclip_*: tests/test_recipes_supervised.py).
CLIPSP_CONFIGS = sorted(osp.basename(p) for p in __import__('glob').glob(
    osp.join(REPO, 'configs', 'clip_sp', 'clipsp*.py')))


def test_every_clipsp_table_has_its_configs():
    names = set(CLIPSP_CONFIGS)
    for backbone, crop in (('clip-r50', '512x512'), ('clip-r101', '512x512'),
                           ('clip-vit-b16', '640x640')):
        assert f'clipsp_{backbone}_4xb4-160k_ade20k-{crop}.py' in names
    for variant in ('mlp-nodrop', 'nodrop', 'b1', 'b5', 'k20', 'k25', 'k35', 'k40', 'k150',
                    'r10-0', 'r9-0', 'r8-0', 'r9-2', 'w1-10', 'w5-10', 'w10-10', 'w1-04',
                    'w1-06'):
        assert f'clipsp-{variant}_clip-r50_4xb4-160k_ade20k-512x512.py' in names


@pytest.mark.slow
@pytest.mark.parametrize('config', CLIPSP_CONFIGS)
def test_clipsp_config_trains_two_iterations_with_batch_drop(config, tmp_path, toy_root):
    from mmengine.config import Config

    from .test_table_configs import train_two_iterations
    path = osp.join(REPO, 'configs', 'clip_sp', config)
    # no co-occurrence file on the toy data (the MLP decoder of the ablation has none)
    decoder = Config.fromfile(path).model.fusion.decoder
    extra = {'model.fusion.decoder.cooccurrence': None} if 'cooccurrence' in decoder else {}
    losses = train_two_iterations(
        path, tmp_path, toy_root, extra=extra,
        train_state={'batch_drop_ratio': 0.5})
    assert 'fusion.loss_asl' in losses and 'fusion.loss_scene_aux' in losses
    assert float(losses['fusion.batch_drop_ratio']) == 0.5
    assert float(losses['fusion.batch_dropped']) == 0.5   # round(0.5 * 2) of 2 images


def _mha_by_hand(attn, query, key):
    """W^O(concat_h softmax(q_h k_h^T / sqrt(d)) v_h) with the projections applied by hand."""
    from .test_convformer import explicit_mha
    q = query @ attn.q_proj.weight.T + attn.q_proj.bias
    k = key @ attn.k_proj.weight.T + attn.k_proj.bias
    v = key @ attn.v_proj.weight.T + attn.v_proj.bias
    return explicit_mha(q, k, v, attn.num_heads) @ attn.out_proj.weight.T + attn.out_proj.bias


def test_dual_graphformer_block_matches_the_equations():
    """One block written from Sec. 3.2 / Eq. 2: soft node compression B, graph convolution
    GELU(LN(A H + b)) on both paths with shortcuts w_v, w_s, two-way cross-attention with
    Add & LN in an attention width of dim / 2, decompression by B^T."""
    from langseg.methods.clip_sp.fusion import DualGraphFormerBlock
    torch.manual_seed(0)
    dim, k, n, tokens = 16, 5, 3, 7
    block = DualGraphFormerBlock(dim, k, n, num_heads=2, attn_dim=8).double()
    assert block.text_attn.q_proj.weight.shape == (8, dim)      # inner width dim / 2
    with torch.no_grad():
        block.w_v.fill_(0.3)
        block.w_s.fill_(-0.7)
        for norm in (block.image_graph.norm, block.text_graph.norm, block.text_norm,
                     block.image_norm):
            norm.weight.normal_()
            norm.bias.normal_()
    image = torch.randn(2, tokens, dim, dtype=torch.float64)
    text = torch.randn(2, k, dim, dtype=torch.float64)

    def graph(conv, h):
        a = conv.adjacency.weight[..., 0]
        out = torch.einsum('nm,bmc->bnc', a, h) + conv.adjacency.bias[:, None]
        return torch.nn.functional.gelu(conv.norm(out))

    assign = torch.softmax(image @ block.compress.weight.T + block.compress.bias, dim=1)
    nodes = assign.transpose(1, 2) @ image
    nodes = graph(block.image_graph, nodes) + 0.3 * nodes
    text_ref = graph(block.text_graph, text) - 0.7 * text
    text_ref = block.text_norm(text_ref + _mha_by_hand(block.text_attn, text_ref, nodes))
    nodes = block.image_norm(nodes + _mha_by_hand(block.image_attn, nodes, text_ref))
    image_ref = image + assign @ nodes
    with torch.no_grad():
        image_out, text_out = block(image, text)
        torch.testing.assert_close(text_out, text_ref)
        torch.testing.assert_close(image_out, image_ref)


def test_scene_refinement_matches_eq_3_and_4():
    """x4' = sigmoid(Pool_k(MLP(T))) * x4; A = softmax(Q(x4') K(T)^T / sqrt(d));
    out = ReLU(BN(Conv1x1([A V(T); x4'])))."""
    from langseg.methods.clip_sp import SceneRefinement
    torch.manual_seed(0)
    c4, c, k, d = 12, 6, 4, 5
    refine = SceneRefinement(c4, c + 1, k, d, dict(type='BN')).double().eval()
    assert isinstance(refine.mlp, torch.nn.Linear)                   # one linear layer
    with torch.no_grad():
        refine.fuse.bn.running_mean.normal_()
        refine.fuse.bn.running_var.uniform_(0.5, 2)
    x4 = torch.randn(2, c4, 3, 4, dtype=torch.float64)
    tokens = torch.randn(2, k, c + 1, dtype=torch.float64)
    with torch.no_grad():
        out, attn = refine(x4, tokens)
        gate = refine.mlp(tokens)                                     # B, k, C4
        gate = torch.einsum('bkc,k->bc', gate, refine.pool.weight[0]) + refine.pool.bias
        x4g = x4 * torch.sigmoid(gate)[:, :, None, None]
        q = torch.einsum('bchw,dc->bhwd', x4g, refine.query.weight[..., 0, 0]) + refine.query.bias
        keys, values = refine.key(tokens), refine.value(tokens)
        a = torch.softmax(torch.einsum('bhwd,bkd->bhwk', q, keys) / math.sqrt(d), dim=-1)
        y = torch.einsum('bhwk,bkd->bdhw', a, values)
        z = torch.cat([y, x4g], dim=1)
        conv = torch.einsum('bchw,oc->bohw', z, refine.fuse.conv.weight[..., 0, 0])
        bn = refine.fuse.bn
        ref = torch.relu((conv - bn.running_mean[:, None, None])
                         / torch.sqrt(bn.running_var[:, None, None] + bn.eps)
                         * bn.weight[:, None, None] + bn.bias[:, None, None])
    torch.testing.assert_close(attn, a.flatten(1, 2))
    torch.testing.assert_close(out, ref)


# (config, transposed-conv rule, published GFLOPs, published params M), Li et al., CVM 2024, doi:10.1007/s41095-024-0430-4 Table 1
PUBLISHED = [
    ('clipsp_clip-r50_4xb4-160k_ade20k-512x512.py', 'input', 260, 65),
    ('clipsp_clip-r101_4xb4-160k_ade20k-512x512.py', 'input', 334, 71),
    ('clipsp_clip-vit-b16_4xb4-160k_ade20k-640x640.py', 'output', 1039, 106),
]


@pytest.mark.slow
def test_clipsp_flops_and_params_within_three_percent_of_table_1(tmp_path):
    import json

    from .test_denseclip import run_tool
    for config, rule, gflops, params in PUBLISHED:
        out = tmp_path / f'{config}.json'
        proc = run_tool('get_flops.py', osp.join(REPO, 'configs', 'clip_sp', config),
                        '--shape', '1024', '--transposed-conv-rule', rule, '--json', str(out))
        assert proc.returncode == 0, proc.stderr[-3000:]
        row = json.loads(out.read_text())[0]
        assert row['gflops'] == pytest.approx(gflops, rel=0.03), (config, row['gflops'])
        assert row['params_m'] == pytest.approx(params, rel=0.03), (config, row['params_m'])
