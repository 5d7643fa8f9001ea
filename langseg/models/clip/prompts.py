"""Prompts: class names (with synonyms) filled into templates.

* A class name may list synonyms separated by ``;`` ("car; automobile"): each synonym is
  encoded on its own; the synonyms are then averaged (``'mean'``) or kept apart for
  max-merging of their scores later (``'none'``, ProxyCLIP).
* Templates: one string with ``{}`` ("a photo of a {}."), a list of such strings, or
  ``'openai_imagenet'`` for the 80 templates OpenAI used for zero-shot ImageNet (taken
  from open_clip at run time).
"""
from __future__ import annotations

from typing import Sequence

from ...utils.errors import ConfigError

DEFAULT_TEMPLATE = 'a photo of a {}.'


def split_synonyms(class_name: str) -> list[str]:
    """``"car; automobile"`` -> ``['car', 'automobile']`` (whitespace trimmed)."""
    words = [w.strip() for w in str(class_name).split(';')]
    words = [w for w in words if w]
    if not words:
        raise ConfigError(f'class name {class_name!r} is empty: expected a word or '
                          'synonyms separated by ";"')
    return words


def resolve_templates(templates: str | Sequence[str] | None) -> list[str]:
    """The list of template strings (each with one ``{}``)."""
    if templates is None:
        templates = [DEFAULT_TEMPLATE]
    elif templates == 'openai_imagenet':
        from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES
        templates = [t('{}') for t in OPENAI_IMAGENET_TEMPLATES]
    elif isinstance(templates, str):
        templates = [templates]
    templates = list(templates)
    bad = [t for t in templates if t.count('{}') != 1]
    if not templates or bad:
        raise ConfigError(f'prompt templates must each contain one "{{}}": got {bad or templates}')
    return templates
