"""The registries langseg's modules live in: MMSegmentation's own.

langseg does not create child registries: every module registers straight into mmseg's
registries (scope ``mmseg``), so a config with ``default_scope = 'mmseg'`` and
``custom_imports = dict(imports=['langseg'])`` can mix mmseg and langseg types freely.
"""
from mmseg.registry import (DATASETS, HOOKS, METRICS, MODEL_WRAPPERS, MODELS,
                            TRANSFORMS)

__all__ = ['DATASETS', 'HOOKS', 'METRICS', 'MODEL_WRAPPERS', 'MODELS', 'TRANSFORMS']
