"""Put the checked loaders of :mod:`langseg.datasets.transforms` into a config's pipelines.

``tools/train.py`` and ``tools/test.py`` call :func:`install_checked_loading` before they
build the runner, so every config gets the checks without being edited: in the pipelines
of ``train_dataloader``, ``val_dataloader`` and ``test_dataloader`` (through
``ConcatDataset``'s ``datasets``, wrappers' ``dataset`` and ``TestTimeAug``'s nested
``transforms``), ``LoadImageFromFile`` becomes ``CheckedLoadImageFromFile`` and
``LoadAnnotations`` becomes ``CheckedLoadAnnotations`` with the dataset's ``num_classes``
and ``ignore_index`` (the 16-bit ``LoadAnnotations16`` keeps its type and gets the same
arguments). The other keys of each transform are kept.

The top-level config key ``data_checks`` controls it::

    data_checks = dict(
        enabled=True,            # False: the pipelines are left as they are
        invalid_labels='error',  # or 'ignore': label values >= num_classes (other than
    )                            #   ignore_index) are set to ignore_index
"""
from __future__ import annotations

import inspect
import os.path as osp
from typing import Any

from ..utils.errors import ConfigError

#: The defaults of the ``data_checks`` config key.
DATA_CHECKS_DEFAULTS = dict(enabled=True, invalid_labels='error')
_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_IMAGE_LOADERS = ('LoadImageFromFile', 'CheckedLoadImageFromFile')
_LABEL_LOADERS = ('LoadAnnotations', 'CheckedLoadAnnotations')


def data_checks_options(cfg: Any) -> dict:
    """The ``data_checks`` of a config merged over the defaults; validated."""
    given = cfg.get('data_checks') or {}
    if not isinstance(given, dict):
        raise ConfigError(f'data_checks={given!r}: expected a dict, e.g. '
                          "data_checks=dict(invalid_labels='error', enabled=True)")
    unknown = sorted(set(given) - set(DATA_CHECKS_DEFAULTS))
    if unknown:
        raise ConfigError(f'data_checks has unknown keys {unknown}: expected '
                          f'{sorted(DATA_CHECKS_DEFAULTS)}')
    options = dict(DATA_CHECKS_DEFAULTS, **given)
    if options['invalid_labels'] not in ('error', 'ignore'):
        raise ConfigError(f"data_checks.invalid_labels={options['invalid_labels']!r}: "
                          "expected 'error' or 'ignore'")
    if not isinstance(options['enabled'], bool):
        raise ConfigError(f"data_checks.enabled={options['enabled']!r}: expected True or "
                          'False')
    return options


def _short_type(name: Any) -> str:
    """``'mmseg.LoadAnnotations'`` -> ``'LoadAnnotations'``."""
    return str(name).rsplit('.', 1)[-1]


def _dataset_class(ds_type: Any):
    if not isinstance(ds_type, str):
        return ds_type if inspect.isclass(ds_type) else None
    from ..registry import DATASETS
    try:
        return DATASETS.get(ds_type)
    except Exception:  # an unknown type is reported by the build
        return None


def _num_classes(classes: Any) -> int | None:
    if isinstance(classes, str):  # mmengine reads a str as a file of class names
        if not osp.isfile(classes):
            return None
        with open(classes) as f:
            return len([line for line in f if line.strip()])
    if isinstance(classes, (list, tuple)):
        return len(classes)
    return None


def dataset_label_info(ds: dict) -> tuple[int | None, int]:
    """``(num_classes, ignore_index)`` of a leaf dataset config.

    The classes come from the config's ``metainfo=dict(classes=...)`` if given, else from
    the dataset class's ``METAINFO['classes']`` (``None`` when neither says); the
    ``ignore_index`` from the config, else the class's default, else 255.
    """
    cls = _dataset_class(ds.get('type'))
    if ds.get('type') == 'FolderSegDataset' and not (ds.get('metainfo') or {}).get('classes'):
        from ..utils.errors import DataError
        from .folder import folder_classes
        try:   # a dataloader the run does not use may point to no folder
            count = len(folder_classes(ds.get('data_root') or '',
                                       ds.get('classes_file', 'classes.txt')))
        except DataError:
            count = None
        return count, int(ds.get('ignore_index', 255))
    metainfo = ds.get('metainfo') or {}
    classes = metainfo.get('classes') if isinstance(metainfo, dict) else None
    if classes is None and cls is not None:
        classes = (getattr(cls, 'METAINFO', None) or {}).get('classes')
    ignore_index = ds.get('ignore_index')
    if ignore_index is None and cls is not None:
        try:
            param = inspect.signature(cls.__init__).parameters.get('ignore_index')
        except (TypeError, ValueError):
            param = None
        if param is not None and isinstance(param.default, int):
            ignore_index = param.default
    return _num_classes(classes), 255 if ignore_index is None else int(ignore_index)


def _rewrite_transforms(transforms: Any, info: tuple[int | None, int], options: dict,
                        prefix: str) -> None:
    """Rewrite a list of transform dicts in place, recursing into nested lists and the
    ``transforms`` of wrappers such as ``TestTimeAug`` / ``RandomChoice``."""
    if isinstance(transforms, (list, tuple)):
        for item in transforms:
            _rewrite_transforms(item, info, options, prefix)
        return
    if not isinstance(transforms, dict):
        return
    kind = _short_type(transforms.get('type', ''))
    if kind in _IMAGE_LOADERS:
        transforms['type'] = prefix + 'CheckedLoadImageFromFile'
    elif kind in _LABEL_LOADERS or kind == 'LoadAnnotations16':
        num_classes, ignore_index = info
        if kind != 'LoadAnnotations16':  # the 16-bit loader is already a checked one
            transforms['type'] = prefix + 'CheckedLoadAnnotations'
        transforms.setdefault('num_classes', num_classes)
        transforms.setdefault('ignore_index', ignore_index)
        transforms.setdefault('invalid_labels', options['invalid_labels'])
    if 'transforms' in transforms:
        _rewrite_transforms(transforms['transforms'], info, options, prefix)


def _rewrite_dataset(ds: Any, options: dict, prefix: str) -> tuple[int | None, int] | None:
    """Rewrite the pipelines of a (possibly wrapped) dataset config; returns its label
    info (that of the first dataset of a ``ConcatDataset``)."""
    if not isinstance(ds, dict):
        return None
    info = None
    if isinstance(ds.get('datasets'), (list, tuple)):  # ConcatDataset
        infos = [_rewrite_dataset(sub, options, prefix) for sub in ds['datasets']]
        info = next((i for i in infos if i is not None), None)
    if isinstance(ds.get('dataset'), dict):  # RepeatDataset, ClassBalancedDataset, ...
        info = _rewrite_dataset(ds['dataset'], options, prefix)
    if info is None:
        info = dataset_label_info(ds)
    if ds.get('pipeline') is not None:
        _rewrite_transforms(ds['pipeline'], info, options, prefix)
    return info


def install_checked_loading(cfg: Any, loaders: tuple[str, ...] = _LOADERS) -> bool:
    """Replace the loaders of the named dataloaders' pipelines by the checked ones, in
    place (see the module docstring). Returns whether it did (``data_checks.enabled``)."""
    options = data_checks_options(cfg)
    if not options['enabled']:
        return False
    # The checked transforms live in mmseg's registry: scope them unless the config's
    # default scope is mmseg (where plain names are looked up).
    prefix = '' if cfg.get('default_scope') == 'mmseg' else 'mmseg.'
    from . import transforms  # noqa: F401  (registers the checked transforms)
    for key in loaders:
        loader = cfg.get(key)
        if isinstance(loader, dict):
            _rewrite_dataset(loader.get('dataset'), options, prefix)
    return True


__all__ = ['DATA_CHECKS_DEFAULTS', 'data_checks_options', 'dataset_label_info',
           'install_checked_loading']
