"""Every config of Jin & Yang, arXiv:2310.07394's Tables 1 and 2 trains a few iterations on CPU: small input,
random weights, toy data (a Cityscapes row whose toy model and optimiser equal its ADE20K
row's, checked, is covered by that row's run); the ablation configs exist."""
import glob
import os.path as osp
import pytest

from .conftest import REPO, toy_version_of

TABLE_BASELINES = [
    f'fpn_{b}_8xb4-80k_ade20k-512x512.py'
    for b in ('mobilenetv2', 'xception', 'efficientformer', 'r50', 'r101', 'clip-r50',
              'clip-r101')
] + ['fpn_clip-vit-b16_8xb4-80k_ade20k-640x640.py',
     'upernet_swin-t_8xb2-160k_ade20k-512x512.py'] + [
    f'fpn_{b}_4xb2-80k_cityscapes-512x1024.py'
    for b in ('mobilenetv2', 'xception', 'efficientformer', 'r50', 'r101', 'clip-r50',
              'clip-r101', 'clip-vit-b16')
] + ['upernet_swin-t_4xb2-80k_cityscapes-512x1024.py']

CONFIGS = sorted(
    [osp.join('baselines', c) for c in TABLE_BASELINES]
    + [osp.relpath(p, osp.join(REPO, 'configs'))
       for p in glob.glob(osp.join(REPO, 'configs', 'denseclip', '*.py'))
       + glob.glob(osp.join(REPO, 'configs', 'convformer', '*.py'))])


def test_every_table_row_has_its_configs():
    names = {osp.basename(c) for c in CONFIGS}
    for method in ('denseclip', 'convformer'):
        for backbone in ('mobilenetv2', 'xception', 'efficientformer', 'clip-r50',
                         'clip-r101'):
            for dataset in ('8xb4-80k_ade20k-512x512', '4xb2-80k_cityscapes-512x1024'):
                assert f'{method}_{backbone}_{dataset}.py' in names
        assert f'{method}_clip-vit-b16_8xb4-80k_ade20k-640x640.py' in names
        assert f'{method}_swin-t_8xb2-160k_ade20k-512x512.py' in names
    for n in (1, 2, 3, 4, 5, 7, 8):
        assert f'convformer-n{n}_mobilenetv2_8xb4-80k_ade20k-512x512.py' in names
    assert len([n for n in names if n.startswith('convformer-innerproduct_')]) == 3
    for c in CONFIGS:
        assert osp.isfile(osp.join(REPO, 'configs', c)), c


# The ablation configs change one constructor argument of their main config (checked by
# tests/test_convformer.py), so the training run covers the table rows.
TABLE_ROWS = [c for c in CONFIGS if not osp.basename(c).startswith('convformer-')]




def _model_name(config: str) -> str:
    """``{folder}/{method}_{backbone}``: what a Cityscapes row shares with its ADE20K row."""
    return osp.join(osp.dirname(config), '_'.join(osp.basename(config).split('_')[:2]))


#: Cityscapes row -> the ADE20K row of the same method and backbone. Retargeted to the toy
#: data (10 classes, 64 px, random weights) the two build the same model and optimiser
#: (checked below), so the ADE20K row's training run covers both.
#: A Cityscapes row whose toy model differs from its ADE20K row's is trained on its own:
#: the CLIP ViT-B/16 baseline's positional grid is its training crop (512 against 640).
OWN_TRAINING_RUN = {'baselines/fpn_clip-vit-b16_4xb2-80k_cityscapes-512x1024.py'}
ADE20K_TWIN = {c: ade for c in TABLE_ROWS if 'cityscapes' in c and c not in OWN_TRAINING_RUN
               for ade in TABLE_ROWS if 'ade20k' in ade and _model_name(ade) == _model_name(c)}
TRAINED_ROWS = [c for c in TABLE_ROWS if c not in ADE20K_TWIN]


def _toy_model_and_optimiser(config: str, tmp_path) -> dict:
    from mmengine.config import Config

    import langseg  # noqa: F401  (the langseg:: base configs)
    path = toy_version_of(osp.join(REPO, 'configs', config), str(tmp_path / 'cfg.py'),
                          str(tmp_path / 'data'), size=64, max_iters=2)
    cfg = Config.fromfile(path)
    return dict(model=cfg.model.to_dict(), optim_wrapper=cfg.optim_wrapper.to_dict())


def test_every_cityscapes_row_is_trained_or_has_an_ade20k_twin():
    cityscapes = {c for c in TABLE_ROWS if 'cityscapes' in c}
    assert len(cityscapes) == 23 and set(ADE20K_TWIN) | OWN_TRAINING_RUN == cityscapes
    assert OWN_TRAINING_RUN <= set(TRAINED_ROWS) and len(TRAINED_ROWS) == 24


def test_the_own_run_rows_differ_from_their_ade20k_row(tmp_path):
    for config in OWN_TRAINING_RUN:
        ade = next(a for a in TABLE_ROWS
                   if 'ade20k' in a and _model_name(a) == _model_name(config))
        assert (_toy_model_and_optimiser(config, tmp_path)
                != _toy_model_and_optimiser(ade, tmp_path))


@pytest.mark.parametrize('config', sorted(ADE20K_TWIN))
def test_cityscapes_row_trains_the_toy_model_of_its_ade20k_row(config, tmp_path):
    """If a Cityscapes row's toy model or optimiser ever differs from its ADE20K row's,
    this fails: move the row to the training runs (``TRAINED_ROWS``)."""
    assert (_toy_model_and_optimiser(config, tmp_path)
            == _toy_model_and_optimiser(ADE20K_TWIN[config], tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize('config', TRAINED_ROWS)
def test_config_trains_two_iterations_on_cpu(config, tmp_path, toy_root):
    """The config's model (random weights, 64 px) and optimiser run two training
    iterations in this process: loss, backward, the config's optimiser step."""
    train_two_iterations(osp.join(REPO, 'configs', config), tmp_path, toy_root)


def train_two_iterations(config: str, tmp_path, toy_root, extra: dict | None = None,
                         train_state: dict | None = None) -> dict:
    """Build ``config``'s model retargeted to the toy classes (random weights, 64 px) and
    run two training iterations with its optimiser; returns the last losses.
    ``train_state`` is written with the model's ``set_train_state`` (what hooks do)."""
    import torch
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    import langseg  # noqa: F401
    path = toy_version_of(config, str(tmp_path / 'cfg.py'), toy_root, size=64, max_iters=2,
                          extra=extra)
    cfg = Config.fromfile(path)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    model.train()
    if train_state:
        model.set_train_state(**train_state)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 10, (1, 64, 64)))
        sample.set_metainfo(dict(img_shape=(64, 64), pad_shape=(64, 64),
                                 ori_shape=(64, 64)))
        samples.append(sample)
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
                        for _ in range(2)], data_samples=samples)
    losses_seen = []
    for _ in range(2):
        batch = model.data_preprocessor(data, training=True)
        losses = model(**batch, mode='loss')
        loss, _ = model.parse_losses(losses)
        wrapper.update_params(loss)
        losses_seen.append(float(loss))
    assert all(v == v and v > 0 for v in losses_seen), losses_seen
    model.eval()
    with torch.no_grad():
        logits = model(batch['inputs'], mode='tensor')
    assert logits.shape[:2] == (2, 10)
    return losses
