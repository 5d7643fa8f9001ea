"""FLOPs counting against multiply-adds computed by hand."""
import json
import os
import os.path as osp
import textwrap

import torch
import torch.nn.functional as F
from torch import nn

from langseg.evaluation.flops import count_segmentor, flop_analysis

from .conftest import run_tool, tool_env

HAND_MODULE = textwrap.dedent('''
    import torch
    import torch.nn.functional as F
    from torch import nn
    from mmseg.registry import MODELS


    @MODELS.register_module()
    class HandCountedSegmentor(nn.Module):
        """conv 3x3/2 -> qkv linear -> 2-head SDPA -> out linear -> 1x1 conv -> resize."""

        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.qkv = nn.Linear(8, 24)
            self.proj = nn.Linear(8, 8)
            self.cls = nn.Conv2d(8, 5, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            x = self.stem(inputs)                        # 1 x 8 x 16 x 16
            b, c, h, w = x.shape
            t = x.flatten(2).transpose(1, 2)             # 1 x 256 x 8
            q, k, v = self.qkv(t).reshape(b, h * w, 3, 2, 4).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v)  # 1 x 2 x 256 x 4
            t = self.proj(a.transpose(1, 2).reshape(b, h * w, c))
            return self.cls(t.transpose(1, 2).reshape(b, c, h, w))
''')


def hand_count() -> int:
    conv = (8 * 3 * 3 * 3) * (16 * 16)       # weight elements x output positions
    qkv = 256 * 8 * 24
    attention = (2 * 256) * 256 * (4 + 4)    # q k^T and attn v, per head
    proj = 256 * 8 * 8
    cls = (5 * 8) * (16 * 16)
    resize = 4 * (5 * 32 * 32)               # fvcore: 4 per bilinear output element
    return conv + qkv + attention + proj + cls + resize


def test_get_flops_tool_matches_hand_count(tmp_path):
    (tmp_path / 'hand_counted.py').write_text(HAND_MODULE)
    cfg = tmp_path / 'hand_cfg.py'
    cfg.write_text(textwrap.dedent('''
        default_scope = 'mmseg'
        custom_imports = dict(imports=['langseg', 'hand_counted'], allow_failed_imports=False)
        model = dict(type='HandCountedSegmentor')
    '''))
    env = tool_env()
    env['PYTHONPATH'] = str(tmp_path) + os.pathsep + env['PYTHONPATH']
    out = tmp_path / 'flops.json'
    proc = run_tool('get_flops.py', str(cfg), '--shape', '32', '--json', str(out), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert len(rows) == 1
    row = rows[0]
    assert row['input_shape'] == [32, 32]
    assert round(row['gflops'] * 1e9) == hand_count()
    params = 8 * 27 + 8 + 8 * 24 + 24 + 8 * 8 + 8 + 5 * 8 + 5
    assert round(row['params_m'] * 1e6) == params
    assert row['gflops_with_text'] == row['gflops']
    assert 'hand_cfg' in proc.stdout and 'unsupported ops' in proc.stdout


def test_markdown_and_several_configs(tmp_path):
    (tmp_path / 'hand_counted.py').write_text(HAND_MODULE)
    cfg = tmp_path / 'hand_cfg.py'
    cfg.write_text("default_scope = 'mmseg'\ncustom_imports = dict(imports=['langseg', "
                   "'hand_counted'])\nmodel = dict(type='HandCountedSegmentor')\n")
    env = tool_env()
    env['PYTHONPATH'] = str(tmp_path) + os.pathsep + env['PYTHONPATH']
    proc = run_tool('get_flops.py', str(cfg), str(cfg), '--shape', '32', '64',
                    '--markdown', env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = [line for line in proc.stdout.splitlines() if line.startswith('| hand_cfg')]
    assert len(table) == 2 and '32x64' in table[0]


def test_sdpa_handle_equals_explicit_attention():
    class Explicit(nn.Module):
        def forward(self, q, k, v):
            return torch.softmax(q @ k.transpose(-2, -1) * 0.5, -1) @ v

    class Fused(nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v)

    q, k, v = torch.randn(2, 3, 10, 4), torch.randn(2, 3, 7, 4), torch.randn(2, 3, 7, 6)
    explicit = flop_analysis(Explicit(), (q, k, v)).total()
    fused = flop_analysis(Fused(), (q, k, v)).total()
    assert explicit == fused == 2 * 3 * 10 * 7 * (4 + 6)


def test_multihead_attention_fast_path_is_counted():
    """A frozen nn.MultiheadAttention in eval mode takes a fused path fvcore cannot see."""

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(3, 8)
            self.mha = nn.MultiheadAttention(8, 2, batch_first=True)
            self.requires_grad_(False)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            x = self.embed(inputs.flatten(2).transpose(1, 2))     # 1 x 16 x 8
            y = self.mha(x, x, x, need_weights=False)[0]
            return y.transpose(1, 2)[:, :, None]                 # 1 x 8 x 1 x 16

    result = count_segmentor(Wrap(), (1, 16))
    embed = 16 * 3 * 8
    in_proj = 16 * 8 * 24
    attention = 2 * 16 * 16 * (4 + 4)
    out_proj = 16 * 8 * 8
    assert round(result['gflops'] * 1e9) == embed + in_proj + attention + out_proj


def test_transposed_conv_rules():
    up = nn.ConvTranspose2d(4, 2, 2, stride=2)
    x = torch.randn(1, 4, 8, 8)
    weight = 4 * 2 * 2 * 2
    assert flop_analysis(up, (x, ), 'input').total() == weight * 8 * 8
    assert flop_analysis(up, (x, ), 'output').total() == weight * 16 * 16
    conv = nn.Conv2d(4, 2, 3, padding=1)
    assert flop_analysis(conv, (x, ), 'input').total() == \
        flop_analysis(conv, (x, ), 'output').total() == 2 * 4 * 9 * 64


class _CachedText(nn.Module):
    """A frozen 'text encoder' whose embeddings are cached after the first call."""

    def __init__(self):
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(4, 16), requires_grad=False)
        self.proj = nn.Linear(16, 8).requires_grad_(False)
        self.context = nn.Parameter(torch.zeros(8))  # trainable: stays in params_m
        self.register_buffer('cache', None, persistent=False)

    def forward_uncached(self):
        return self.proj(self.tokens) + self.context

    def forward(self):
        if self.cache is None:
            self.cache = self.forward_uncached()
        return self.cache


class _TextSegmentor(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Conv2d(3, 8, 1)
        self.text_encoder = _CachedText()

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return torch.einsum('bchw,kc->bkhw', self.backbone(inputs), self.text_encoder())


def test_text_encoder_is_reported_apart():
    result = count_segmentor(_TextSegmentor(), (4, 4))
    backbone = 8 * 3 * 16
    score = 4 * 8 * 16
    text = 4 * 16 * 8
    assert round(result['gflops'] * 1e9) == backbone + score
    assert round(result['text_gflops'] * 1e9) == text
    assert round(result['gflops_with_text'] * 1e9) == backbone + score + text
    assert round(result['params_m'] * 1e6) == 8 * 3 + 8 + 8  # backbone + context
    assert round(result['params_with_text_m'] * 1e6) == 8 * 3 + 8 + 8 + 4 * 16 + 16 * 8 + 8


def test_bad_config_path_is_one_line(tmp_path):
    proc = run_tool('get_flops.py', str(tmp_path / 'nope.py'))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith('error: config') and \
        len(proc.stderr.strip().splitlines()) == 1
    assert not osp.exists(tmp_path / 'nope.py')


CONV_MODULE = textwrap.dedent('''
    from torch import nn
    from mmseg.registry import MODELS


    @MODELS.register_module()
    class OneByOneSegmentor(nn.Module):
        def __init__(self):
            super().__init__()
            self.cls = nn.Conv2d(3, 5, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            return self.cls(inputs)
''')


def test_default_shape_is_mmsegs_h_2048_w_1024(tmp_path):
    """mmseg's get_flops: ``--shape`` defaults to ``2048 1024``, read as H W."""
    (tmp_path / 'one_by_one.py').write_text(CONV_MODULE)
    cfg = tmp_path / 'conv_cfg.py'
    cfg.write_text("default_scope = 'mmseg'\ncustom_imports = dict(imports=['langseg', "
                   "'one_by_one'])\nmodel = dict(type='OneByOneSegmentor')\n")
    env = tool_env()
    env['PYTHONPATH'] = str(tmp_path) + os.pathsep + env['PYTHONPATH']
    out = tmp_path / 'flops.json'
    proc = run_tool('get_flops.py', str(cfg), '--json', str(out), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads(out.read_text())[0]
    assert row['input_shape'] == row['padded_shape'] == [2048, 1024]
    assert round(row['gflops'] * 1e9) == 5 * 3 * 2048 * 1024
    assert '2048x1024' in proc.stdout
    help_text = run_tool('get_flops.py', '--help').stdout
    assert '2048 1024' in help_text and 'H [W]' in help_text


def _preprocessed_segmentor(**preprocessor):
    """An mmengine model with mmseg's SegDataPreProcessor that records what it is given."""
    from mmengine.model import BaseModel

    import langseg  # noqa: F401  (mmseg's registries)

    class Recording(BaseModel):
        def __init__(self):
            super().__init__(data_preprocessor=dict(
                type='mmseg.SegDataPreProcessor', mean=[100.0] * 3, std=[1.0] * 3,
                bgr_to_rgb=True, **preprocessor))
            self.cls = nn.Conv2d(3, 5, 3, padding=1)
            self.seen = []

        def forward(self, inputs, data_samples=None, mode='tensor'):
            self.seen.append(inputs.detach().clone())
            return self.cls(inputs)

    return Recording()


def test_the_data_preprocessor_runs_first_as_in_mmseg():
    model = _preprocessed_segmentor()
    result = count_segmentor(model, (30, 50))
    # torch.rand in [0, 1) normalised by mean 100, std 1: every input the model saw.
    assert all(x.shape == (1, 3, 30, 50) and x.max() < -99 and x.min() >= -100
               for x in model.seen)
    assert result['input_shape'] == result['padded_shape'] == [30, 50]
    conv = 5 * 3 * 9 * 30 * 50
    assert round(result['gflops'] * 1e9) == conv
    raw = count_segmentor(model, (30, 50), use_data_preprocessor=False)
    assert model.seen[-1].min() < -1 < 1 < model.seen[-1].max()  # torch.randn, raw
    assert raw['gflops'] == result['gflops']  # FLOPs do not depend on the values
    again = count_segmentor(model, (30, 50))
    assert torch.equal(model.seen[-1], model.seen[0])  # the random input is seeded
    assert again['gflops'] == result['gflops']


def test_a_test_time_padding_preprocessor_is_counted_at_the_padded_size():
    model = _preprocessed_segmentor(test_cfg=dict(size_divisor=32))
    result = count_segmentor(model, (30, 50))
    assert result['input_shape'] == [30, 50] and result['padded_shape'] == [32, 64]
    assert round(result['gflops'] * 1e9) == 5 * 3 * 9 * 32 * 64
    # The training crop size does not pad at test time (mmseg's preprocessor, training=False).
    cropped = count_segmentor(_preprocessed_segmentor(size=(64, 64)), (30, 50))
    assert cropped['padded_shape'] == [30, 50]
