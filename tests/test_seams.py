"""Seams between the runner and the model, tested through the path tools/train.py takes
(``langseg.engine.train.build_train_runner`` -> mmengine Runner with the config's hooks),
never by setting attributes by hand: a value a hook or a config key sets must be the value
the code that uses it sees."""
import os
import os.path as osp
import textwrap

import pytest
import torch

from .conftest import REPO, run_tool, tiny_toy_body, write_config

CLIPSP_TOY = osp.join(REPO, 'configs/toy/clipsp_tiny-rn_1xb8-1000_toy-96x96.py')
CONVFORMER_TOY = osp.join(REPO, 'configs/toy/convformer_mobilenetv2-tiny_1xb8-1000_toy-96x96.py')


def _config(tmp_path, base, toy_root, hook: str, max_iters: int = 4) -> str:
    body = textwrap.dedent(tiny_toy_body(toy_root, max_iters=max_iters, val_interval=1000,
                                         ckpt_interval=1000))
    return write_config(str(tmp_path / 'cfg.py'), base, body + f'custom_hooks = [{hook}]\n')


def _spy_on_label_selection(monkeypatch) -> list:
    """Record (drop_ratio, fraction of the batch dropped) of every training call of the
    scene-label selection inside CLIPSPFusion."""
    from langseg.methods.clip_sp import fusion as clip_sp
    real, calls = clip_sp.select_scene_labels, []

    def spy(probs, k, present=None, drop_ratio=0.0, generator=None):
        indices, values, dropped = real(probs, k, present, drop_ratio, generator)
        if present is not None:  # training calls
            calls.append((drop_ratio, float(dropped.float().mean())))
        return indices, values, dropped

    monkeypatch.setattr(clip_sp, 'select_scene_labels', spy)
    return calls


def _train(config: str, work_dir: str):
    from langseg.engine.train import build_train_runner
    runner = build_train_runner(config, work_dir=work_dir)
    runner.train()
    return runner


def test_constant_batch_drop_reaches_the_label_selection(tmp_path, toy_root, monkeypatch):
    """A hook at a constant 1.0: every training iteration's label selection receives 1.0
    and takes every image's labels from the ground truth (the old seam passed 0.0)."""
    calls = _spy_on_label_selection(monkeypatch)
    config = _config(tmp_path, CLIPSP_TOY, toy_root,
                     "dict(type='BatchDropHook', r_start=1.0, r_end=1.0)")
    runner = _train(config, str(tmp_path / 'work'))
    assert calls == [(1.0, 1.0)] * 4
    logged = runner.message_hub.get_scalar('train/fusion.batch_drop_ratio').data[0]
    assert list(logged) == [1.0] * 4


def test_scheduled_batch_drop_follows_the_schedule_in_the_model(tmp_path, toy_root,
                                                                monkeypatch):
    """r(t) = max(0.1, 0.9 * 0.5^t) at iterations 0..3 = 0.9, 0.45, 0.225, 0.1125; with 4
    images, round(4 r) of them are dropped: 4, 2, 1, 0."""
    calls = _spy_on_label_selection(monkeypatch)
    config = _config(tmp_path, CLIPSP_TOY, toy_root,
                     "dict(type='BatchDropHook', r_start=0.9, r_end=0.1, decay=0.5)")
    runner = _train(config, str(tmp_path / 'work'))
    expected = [0.9, 0.45, 0.225, 0.1125]
    assert [c[0] for c in calls] == pytest.approx(expected)
    assert [c[1] for c in calls] == [1.0, 0.5, 0.25, 0.0]
    logged = runner.message_hub.get_scalar('train/fusion.batch_drop_ratio').data[0]
    assert list(logged) == pytest.approx(expected)


def test_batch_drop_hook_on_a_model_that_cannot_use_it_is_refused(tmp_path, toy_root):
    config = _config(tmp_path, CONVFORMER_TOY, toy_root, "dict(type='BatchDropHook')",
                     max_iters=2)
    work = tmp_path / 'work'
    proc = run_tool('train.py', config, '--work-dir', str(work))
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ConvFormerFusion does not use the train-state field '
                           "'batch_drop_ratio'"), last
    assert 'Traceback' not in proc.stderr
    assert not [f for _, _, files in os.walk(work) for f in files if f.endswith('.pth')]


def test_cfg_options_reach_the_module_that_uses_them(tmp_path, toy_root):
    """--cfg-options model.fusion.k=3: the built fusion keeps 3 scene labels, its learned
    pooling over them has 3 inputs, and a training step selects 3 labels per image."""
    from langseg.engine.train import build_train_runner
    config = _config(tmp_path, CLIPSP_TOY, toy_root, "dict(type='BatchDropHook')",
                     max_iters=1)
    runner = build_train_runner(config, work_dir=str(tmp_path / 'work'),
                                cfg_options={'model.fusion.k': 3})
    fusion = runner.model.fusion
    assert fusion.k == 3 and fusion.refine.pool.in_features == 3
    seen = []
    fusion.register_forward_hook(lambda m, i, out: seen.append(out.indices.shape))
    runner.train()
    assert seen and all(shape[1] == 3 for shape in seen)


def _toy_clipsp_model(test_cfg: dict):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import langseg  # noqa: F401
    init_default_scope('mmseg')
    cfg = Config.fromfile(CLIPSP_TOY).model
    cfg.fusion.norm_cfg = dict(type='BN')
    cfg.decode_head.norm_cfg = dict(type='BN')
    cfg.test_cfg = test_cfg
    model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


def test_prediction_extras_are_averaged_over_sliding_windows():
    """predict() asks the fusion for its extras explicitly: pred_multilabel of a sliding
    inference is the mean over the windows of the multi-label probabilities, here computed
    window by window outside the segmentor (mmseg's window grid: 64x64 crops, stride 32,
    on a 96x128 image -> 2 x 3 windows), and the label map equals mmseg's own
    slide_inference of the same model."""
    from mmseg.models.segmentors import EncoderDecoder

    model = _toy_clipsp_model(dict(mode='slide', crop_size=(64, 64), stride=(32, 32)))
    torch.manual_seed(0)
    inputs = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        results = model.predict(inputs)
        windows = [inputs[:, :, y:y + 64, x:x + 64] for y in (0, 32) for x in (0, 32, 64)]
        probs = [torch.sigmoid(model.fusion.decoder(*_decoder_inputs(model, w)))
                 for w in windows]
        metas = [dict(ori_shape=(96, 128), img_shape=(96, 128), pad_shape=(96, 128),
                      padding_size=[0, 0, 0, 0])] * 2
        mmseg_logits = EncoderDecoder.slide_inference(model, inputs, metas)
    expected = torch.stack(probs).mean(dim=0)
    for i, sample in enumerate(results):
        torch.testing.assert_close(sample.pred_multilabel, expected[i])
        torch.testing.assert_close(sample.seg_logits.data, mmseg_logits[i])


def _decoder_inputs(model, window):
    """The multi-label decoder's inputs for one window: [global; dense] tokens and the
    class embeddings per image (CLIP-SP, Sec. 3.2)."""
    emb = model.backbone(window).embeddings
    tokens = torch.cat([emb.global_emb[:, None], emb.dense.flatten(2).transpose(1, 2)], dim=1)
    text = model.text_encoder()
    return tokens, text.to(tokens.dtype).unsqueeze(0).expand(tokens.shape[0], -1, -1)


def test_logged_values_named_like_losses_are_refused(monkeypatch):
    """log_vars go into mmseg's loss dict unsummed only because their names lack 'loss':
    a fusion that logs a name with 'loss' in it is refused instead of silently summed."""
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData

    model = _toy_clipsp_model(dict(mode='whole')).train()
    monkeypatch.setattr(model.fusion, 'log_vars',
                        lambda output: {'loss_logged': torch.tensor(1.0)})
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(64, 64), pad_shape=(64, 64)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 10, (1, 64, 64)))
        samples.append(sample)
    with pytest.raises(ValueError, match='loss_logged'):
        model.loss(torch.randn(2, 3, 64, 64), samples)
