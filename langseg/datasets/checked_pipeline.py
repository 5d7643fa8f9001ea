"""What the configs' checked loaders need to know: the classes of a dataset config, and
whether a run's pipelines check their data.

The dataset configs (``configs/_base_/datasets/*.py`` and any config with its own
pipeline) name langseg's checked loaders themselves, with the dataset's number of classes
and ``ignore_index``::

    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations', num_classes=150, ignore_index=255,
         invalid_labels='error'),   # or 'ignore': invalid values become ignore_index

(:mod:`langseg.datasets.transforms`; ``LoadAnnotations16`` takes the same arguments,
``FolderSegDataset`` fills in ``num_classes=None`` from its class file). Nothing rewrites
a pipeline at run time: the config a user reads is the config that runs. A pipeline that
names mmcv's ``LoadImageFromFile`` / mmseg's ``LoadAnnotations`` runs unchecked.
:func:`dataset_label_info` gives the values a dataset config's loaders should name (the
config tests compare every config with it).
"""
from __future__ import annotations

import inspect
import os.path as osp
from typing import Any

from ..utils.errors import ConfigError

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


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


def _short_type(name: Any) -> str:
    """``'mmseg.LoadAnnotations'`` -> ``'LoadAnnotations'``."""
    return str(name).rsplit('.', 1)[-1]


def _pipelines(ds: Any) -> list:
    """The pipelines of a (possibly wrapped) dataset config."""
    if not isinstance(ds, dict):
        return []
    found = [ds['pipeline']] if ds.get('pipeline') is not None else []
    for sub in ds.get('datasets') or ():  # ConcatDataset
        found += _pipelines(sub)
    if isinstance(ds.get('dataset'), dict):  # RepeatDataset, ClassBalancedDataset, ...
        found += _pipelines(ds['dataset'])
    return found


def _names_type(transforms: Any, name: str) -> bool:
    if isinstance(transforms, (list, tuple)):
        return any(_names_type(t, name) for t in transforms)
    if not isinstance(transforms, dict):
        return False
    return _short_type(transforms.get('type', '')) == name or \
        _names_type(transforms.get('transforms'), name)


def uses_checked_loading(cfg: Any, loaders: tuple[str, ...] = _LOADERS) -> bool:
    """Whether a pipeline of the named dataloaders names ``CheckedLoadImageFromFile`` (then
    the tools also scan the data roots for empty image files before the run starts)."""
    for key in loaders:
        loader = cfg.get(key)
        if isinstance(loader, dict) and any(
                _names_type(p, 'CheckedLoadImageFromFile')
                for p in _pipelines(loader.get('dataset'))):
            return True
    return False


def refuse_data_checks_key(cfg: Any) -> None:
    """Raise :class:`ConfigError` for the retired top-level ``data_checks`` key (it made
    the tools rewrite the pipelines; the pipelines now name the checked loaders)."""
    if 'data_checks' in cfg:
        raise ConfigError('data_checks is no longer read: the dataset configs name the '
                          "checked loaders in their pipelines; set invalid_labels='ignore' "
                          'on CheckedLoadAnnotations (or LoadAnnotations16) there, or name '
                          'LoadImageFromFile / LoadAnnotations to run without the checks')


__all__ = ['dataset_label_info', 'refuse_data_checks_key', 'uses_checked_loading']
