"""Seeded weights and inputs for the parity tests of the dense CLIP methods (SCLIP,
ClearCLIP, NACLIP, ...) and their recording scripts (tools/parity/record_<method>.py).

The recorded official outputs are computed on these weights, and the tests rebuild them
from the seed, so the weights never depend on how a model happens to initialise itself:
every parameter of a ``CLIPDenseSegmentor`` (its image tower and its text tower) is drawn
in the order of the sorted parameter names from one generator (LayerNorm weights
``1 + 0.1 N(0, 1)``, other vectors ``0.1 N(0, 1)``, matrices and kernels
``N(0, 1) / sqrt(fan_in)``). :func:`openai_state_dict` renames them to OpenAI CLIP's keys
(``visual.*`` and the text tower's top-level names), what the official codes load.
"""
from __future__ import annotations

import math

import torch
from torch import nn

TEXT_PREFIX = 'text_encoder.text.'


def seeded_state_dict(model: nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    """New values for every parameter of ``model`` (see the module docstring), loaded into
    it with ``load_state_dict`` (the documented way to change frozen weights: the text
    cache and the bf16 copies notice it) and returned."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, param in sorted(model.named_parameters()):
        noise = torch.randn(param.shape, generator=gen, dtype=torch.float32)
        if param.ndim == 1:
            value = 1 + 0.1 * noise if name.endswith('.weight') else 0.1 * noise
        else:
            value = noise / math.sqrt(math.prod(param.shape[1:]))
        state[name] = value.to(param.dtype)
    model.load_state_dict(state, strict=False)
    return state


def openai_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """langseg's names -> OpenAI CLIP's (``visual.*`` as they are; the text tower's
    without ``text_encoder.text.``)."""
    out = {}
    for name, value in state.items():
        if name.startswith('visual.'):
            out[name] = value
        elif name.startswith(TEXT_PREFIX):
            out[name[len(TEXT_PREFIX):]] = value
    return out


#: Class names of the parity runs (two with synonyms), as langseg writes them; the
#: official codes read them from a file with ', ' between synonyms (:func:`official_names`).
CLASS_NAMES = ['sky; cloud', 'cat', 'dog; puppy', 'grass']
#: Windows of the parity runs: the tiny tower's own grid (64 px: 4 x 4 patches) and a
#: non-square one whose positions are resized (48 x 80 px: 3 x 5 patches).
WINDOW_SIZES = [(64, 64), (48, 80)]
#: Sliding windows of the whole-image runs (the tiny tower's scale of 224 / 112).
SLIDE_CROP, SLIDE_STRIDE = 48, 32
#: Two images of different sizes (neither a multiple of the window).
IMAGE_SIZES = [(64, 96), (80, 56)]
#: Every stored map keeps every STEP-th row and column (the files stay small).
STEP = 2


def official_names() -> str:
    """:data:`CLASS_NAMES` as an official ``cls_*.txt`` (one class a line, ', ')."""
    return '\n'.join(name.replace('; ', ', ') for name in CLASS_NAMES)


def blocks(size: tuple[int, int], gen: torch.Generator) -> torch.Tensor:
    """RGB pixels (3, H, W) in [0, 255]: coloured 16 x 16 blocks plus noise (on pure
    noise, random towers give near-ties everywhere)."""
    h, w = size
    colours = torch.rand(3, (h + 15) // 16, (w + 15) // 16, generator=gen) * 255
    image = colours.repeat_interleave(16, 1).repeat_interleave(16, 2)[:, :h, :w]
    return (image + 20 * torch.randn(3, h, w, generator=gen)).clamp(0, 255)


def window_inputs(seed: int = 1, sizes=None) -> list[torch.Tensor]:
    """A batch of two windows (2, 3, h, w) in [0, 255] for each of ``sizes``
    (:data:`WINDOW_SIZES`)."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.stack([blocks(size, gen) for _ in range(2)])
            for size in (sizes or WINDOW_SIZES)]


def image_inputs(seed: int = 2, sizes=None) -> list[torch.Tensor]:
    """One image (3, H, W) in [0, 255] for each of ``sizes`` (:data:`IMAGE_SIZES`)."""
    gen = torch.Generator().manual_seed(seed)
    return [blocks(size, gen) for size in (sizes or IMAGE_SIZES)]


def subsample(x: torch.Tensor) -> torch.Tensor:
    """Every :data:`STEP`-th row and column of a map (..., H, W), as its own tensor."""
    return x[..., ::STEP, ::STEP].contiguous().clone()


def seeded_tiny_segmentor(type_name: str, templates: str = 'a {}.'
                          ) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """langseg's tiny dense CLIP segmentor ``type_name`` (the ``tiny-vit`` tower with
    QuickGELU, :data:`CLASS_NAMES`) with the seeded weights: ``(model, state)``, what the
    tests build and what the recording scripts give the official code."""
    from mmengine.registry import init_default_scope

    import langseg  # noqa: F401  (registers the modules)
    from langseg.registry import MODELS
    init_default_scope('mmseg')
    model = MODELS.build(dict(type=type_name, class_names=CLASS_NAMES,
                              clip=dict(arch='tiny-vit', pretrained=None, quick_gelu=True),
                              templates=templates)).eval()
    return model, seeded_state_dict(model)


def save_record(record: dict, out: str) -> None:
    """Write a recording (to a temporary name, then renamed) and print what it holds."""
    from langseg.engine.atomic_io import atomic_torch_save
    atomic_torch_save(record, out)
    print(f'wrote {out}: ' + ', '.join(
        f'{k} {tuple(v.shape)}' if torch.is_tensor(v) else k for k, v in record.items()))
