"""docs/methods/training_free.md, "How to add a training-free method", followed to the
letter: MaskCLIP (the smallest of the zoo) as a method folder written outside the package,
subclassing the shared base ``CLIPDenseSegmentor``; its config builds with tiny random
towers and ``tools/test.py`` evaluates it on generated VOC data; ``tools/compare.py``
finds it from its config folder. Its window scores are checked against MaskCLIP's
computation written out here with open_clip's own modules (an independent reference).
The code below is the code the document shows (the last test checks that)."""
from __future__ import annotations

import importlib
import os
import os.path as osp
import re
import sys
import textwrap

import torch
import torch.nn.functional as F

from .conftest import REPO, run_tool, tool_env, write_config
from .test_proxyclip_benchmarks import make_dataset

#: ``mymaskclip/__init__.py``: the whole method.
METHOD_SOURCE = '''\
"""MaskCLIP: CLIP's last block reduced to its value path (Zhou, Loy, Dai, "Extract Free
Dense Labels from CLIP", ECCV 2022, arXiv:2112.01071, Sec. 3.1): no query-key attention,
no residual, no FFN; every patch token's value, projected by the attention's output
projection, ln_post and proj, is its dense CLIP embedding."""
import torch.nn.functional as F

from langseg.models.segmentors.clip_dense import CLIPDenseSegmentor
from langseg.registry import MODELS


@MODELS.register_module()
class MyMaskCLIPSegmentor(CLIPDenseSegmentor):

    def last_block(self, block, tokens, grid, rgb):
        # tokens: (B, 1 + h*w, C), the class token first; the value rows of in_proj
        attn = block.attn
        width = attn.embed_dim
        values = F.linear(block.ln_1(tokens), attn.in_proj_weight[2 * width:],
                          attn.in_proj_bias[2 * width:])
        return self.out_proj(values[:, 1:]), grid   # patch tokens, for ln_post
'''

#: ``configs/mymaskclip/mymaskclip_vit-b16_voc21.py``.
CONFIG_SOURCE = '''\
_base_ = ['../_base_/datasets/ov_voc21.py', '../_base_/default_runtime.py']
custom_imports = dict(imports=['langseg', 'mymaskclip'], allow_failed_imports=False)
model = dict(
    type='MyMaskCLIPSegmentor',
    data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255),
    clip=dict(arch='ViT-B-16', pretrained='openai'),
    class_names='cls_voc21.txt',
    slide_crop=336, slide_stride=112, logit_scale=40.0, prob_thd=0.0)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
protocol = dict(
    dataset='voc21', published_miou=None, tolerance=1.0, needs_checkpoint=False,
    source='Zhou, Loy, Dai, ECCV 2022 (arXiv:2112.01071)',
    weights={'clip': "open_clip ViT-B-16 'openai'"})
'''

#: the test's only departure from the document: tiny random towers, loaders in-process
TINY = """
model = dict(clip=dict(arch='tiny-vit', pretrained=None), templates='a photo of a {}.',
             slide_crop=48, slide_stride=32)
test_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = test_dataloader
"""


def _method_folder(tmp_path) -> str:
    """The folder and the config as the document lays them out; returns the config."""
    (tmp_path / 'mymaskclip').mkdir()
    (tmp_path / 'mymaskclip' / '__init__.py').write_text(METHOD_SOURCE)
    configs = tmp_path / 'configs'
    (configs / 'mymaskclip').mkdir(parents=True)
    os.symlink(osp.join(REPO, 'configs', '_base_'), configs / '_base_')
    config = configs / 'mymaskclip' / 'mymaskclip_vit-b16_voc21.py'
    config.write_text(CONFIG_SOURCE)
    return str(config)


def test_the_worked_example_runs_through_the_tools(tmp_path):
    config = _method_folder(tmp_path)
    tiny = write_config(str(tmp_path / 'tiny.py'), config, TINY)
    data = tmp_path / 'data'
    make_dataset(str(data / 'VOCdevkit' / 'VOC2012'), 'voc21')
    env = tool_env()
    env['PYTHONPATH'] = str(tmp_path) + os.pathsep + env['PYTHONPATH']
    proc = run_tool('test.py', tiny, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                    f'test_dataloader.dataset.data_root={data}/VOCdevkit/VOC2012', env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    miou = re.search(r'mIoU: (\d+\.\d+)', proc.stdout + proc.stderr)
    assert miou is not None and 0.0 <= float(miou.group(1)) <= 100.0
    # a new method folder is a method of tools/compare.py (nothing to edit there)
    from langseg.engine.compare import default_config, find_method_configs
    found = find_method_configs(str(tmp_path / 'configs'))
    assert default_config(found['mymaskclip'], 'voc21') == config


def test_the_worked_example_is_maskclip(tmp_path, monkeypatch):
    """Its window scores equal MaskCLIP's computation written with open_clip's modules:
    normalised pixels, patch + class + positional embedding, ln_pre, the blocks but the
    last, the last block's value path, out_proj, ln_post, proj, cosine with the text,
    bilinear to the window."""
    _method_folder(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop('mymaskclip', None)
    importlib.import_module('mymaskclip')
    from langseg.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(dict(type='MyMaskCLIPSegmentor', class_names=['cat', 'dog', 'sky'],
                              clip=dict(arch='tiny-vit', pretrained=None),
                              templates='a photo of a {}.')).eval()
    rgb = torch.rand(2, 3, 64, 64) * 255            # the tower's own 4 x 4 grid
    with torch.no_grad():
        ours = model.window_logits(rgb)
        visual = model.visual
        x = (rgb - model.clip_mean) / model.clip_std
        x = visual.conv1(x).flatten(2).transpose(1, 2)               # B, 16, C
        cls = visual.class_embedding.expand(x.shape[0], 1, -1)
        x = visual.ln_pre(torch.cat([cls, x], 1) + visual.positional_embedding)
        for block in visual.transformer.resblocks[:-1]:
            x = block(x)
        last = visual.transformer.resblocks[-1]
        _, _, v_weight = last.attn.in_proj_weight.chunk(3)
        _, _, v_bias = last.attn.in_proj_bias.chunk(3)
        v = last.ln_1(x)[:, 1:] @ v_weight.T + v_bias
        feats = visual.ln_post(last.attn.out_proj(v)) @ visual.proj       # B, 16, E
        feats = F.normalize(feats, dim=-1)
        text = F.normalize(model.text_encoder().float(), dim=-1)
        ref = torch.einsum('bne,qe->bqn', feats, text).reshape(2, -1, 4, 4)
        ref = F.interpolate(ref, size=(64, 64), mode='bilinear', align_corners=False)
    assert ours.shape == (2, 3, 64, 64)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_the_document_shows_this_code():
    doc = open(osp.join(REPO, 'docs', 'methods', 'training_free.md')).read()
    for source in (METHOD_SOURCE, CONFIG_SOURCE):
        assert textwrap.dedent(source).strip() in doc
