"""Safe checkpoint loading: mmengine checkpoints load with weights_only=True, nothing else."""
import os

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from torch import nn

import langseg  # noqa: F401  (installs the safe loader)
from langseg.engine.checkpoint import (check_checkpoint_matches, compare_state_dicts,
                                       load_checkpoint_file)
from langseg.utils.errors import CheckpointError


class RunsCode:
    """A pickle payload that would run a shell command on load."""

    def __reduce__(self):
        return (os.system, ('echo pwned > /tmp/langseg_pwned',))


class FetchesAttribute:
    """A payload that asks the restricted getattr for something it must not give."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_mmengine_style_checkpoint_loads(tmp_path):
    hub = MessageHub.get_instance('test_ckpt')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', np.float64(0.25))
    hub.update_info('iter', 7)
    ckpt = dict(meta=dict(iter=7, seed=np.int64(3), dataset_meta=dict(classes=('a', 'b'))),
                state_dict={'w': torch.ones(2)}, message_hub=hub.state_dict())
    path = str(tmp_path / 'ok.pth')
    torch.save(ckpt, path)
    loaded = load_checkpoint_file(path)
    assert loaded['meta']['iter'] == 7
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 0.25


def test_loading_keeps_the_process_wide_registration(tmp_path):
    """After langseg reads a checkpoint, a plain ``torch.load`` (mmseg's tools, user code)
    still reads an mmengine checkpoint: torch's ``safe_globals`` context removed the entries
    ``import langseg`` had registered, and a test process that had run langseg's loader
    refused mmengine's HistoryBuffer afterwards."""
    hub = MessageHub.get_instance('test_ckpt_registration')
    hub.update_scalar('train/loss', 0.5)
    path = str(tmp_path / 'hub.pth')
    torch.save(dict(message_hub=hub.state_dict()), path)
    before = list(torch.serialization.get_safe_globals())
    load_checkpoint_file(path)
    assert torch.serialization.get_safe_globals() == before
    loaded = torch.load(path, weights_only=True)
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 0.5


def test_arbitrary_callable_is_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'payload': RunsCode()}, path)
    if os.path.exists('/tmp/langseg_pwned'):
        os.remove('/tmp/langseg_pwned')
    with pytest.raises(CheckpointError, match=r'refused to load .*posix\.system'):
        load_checkpoint_file(path)
    assert not os.path.exists('/tmp/langseg_pwned')
    # mmengine's own loader (used by resume and load_from) is routed through ours.
    from mmengine.runner.checkpoint import _load_checkpoint
    langseg.engine.install_safe_checkpoint_loader()  # what the runner builders call
    with pytest.raises(CheckpointError, match='refused'):
        _load_checkpoint(path)


def test_restricted_getattr_gives_only_history_buffer_statistics(tmp_path):
    path = str(tmp_path / 'getattr.pth')
    torch.save({'payload': FetchesAttribute()}, path)
    with pytest.raises(CheckpointError, match='not a readable|refused'):
        load_checkpoint_file(path)


@pytest.mark.parametrize('content', [b'', b'not a checkpoint at all', b'PK\x03\x04broken'])
def test_non_checkpoints_are_refused(tmp_path, content):
    path = tmp_path / 'bad.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match='not a readable torch checkpoint'):
        load_checkpoint_file(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match='does not exist'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


def test_state_dict_comparison_lists_keys(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    other = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Linear(2, 2))
    path = str(tmp_path / 'other.pth')
    torch.save({'state_dict': other.state_dict()}, path)
    report = compare_state_dicts(model, other.state_dict())
    assert report['missing'] == ['1.num_batches_tracked', '1.running_mean', '1.running_var']
    assert report['unexpected'] == []  # '1.weight'/'1.bias' exist in both (other shapes)
    assert [k.split(' ')[0] for k in report['mismatched']] == \
        ['0.bias', '0.weight', '1.bias', '1.weight']
    torch.save({'state_dict': {**other.state_dict(), 'extra.w': torch.zeros(1)}}, path)
    with pytest.raises(CheckpointError, match='missing keys: 1.num_batches_tracked') as err:
        check_checkpoint_matches(model, path)
    assert '1 unexpected keys: extra.w' in str(err.value)
    assert '4 mismatched keys' in str(err.value)
    torch.save({'state_dict': model.state_dict()}, path)
    check_checkpoint_matches(model, path)  # its own weights: no error
