"""benchmarks/official_speed.py without the official checkouts: its method table, its
resize rule (against mmcv's own), and its one-line refusals of a wrong method or path."""
from __future__ import annotations

import pytest
from .conftest import load_script


@pytest.fixture(scope='module')
def script():
    return load_script('benchmarks/official_speed.py')


def test_every_method_is_documented_with_its_short_side(script):
    assert list(script.METHODS) == ['sclip', 'clearclip', 'naclip', 'scclip', 'resclip',
                                    'proxyclip', 'glaclip', 'corrclip', 'trident']
    doc = ' '.join(script.__doc__.split())
    for name, (label, short_side, build) in script.METHODS.items():
        assert f'* ``{name}``: github.com/' in doc, name
        item = doc.split(f'* ``{name}``')[1].split('* ``')[0]
        assert f'short side {short_side}' in item, name
        assert callable(build)


@pytest.mark.parametrize('short_side', [336, 448])
def test_resize_is_mmcvs_keep_ratio_rescale(script, short_side):
    from mmcv.image.geometric import rescale_size
    for h, w in script.SIZES:
        nw, nh = rescale_size((w, h), (2048, short_side))
        assert script.resized(h, w, short_side) == (nh, nw)
    assert script.resized(375, 500, 336) == (336, 448)      # the docs' VOC21 sizes
    assert script.resized(333, 500, 448) == (448, 673)


def test_unknown_method_exits_with_one_line(script, tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        script.main(['maskformer', str(tmp_path)])
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert message.count('\n') == 1
    assert "unknown method 'maskformer'" in message and 'sclip' in message


def test_missing_checkout_exits_with_one_line(script, tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        script.main(['naclip', str(tmp_path / 'nowhere')])
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert message.count('\n') == 1 and 'official NACLIP repository' in message
