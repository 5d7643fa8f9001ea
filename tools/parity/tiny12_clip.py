"""The seeded tiny CLIP of the ResCLIP and SC-CLIP parity runs: the recording scripts
(tools/parity/record_resclip.py, record_scclip.py) save it for the official code, and the
tests (tests/test_zoo_resclip.py, test_zoo_scclip.py) rebuild it from the same seeds.

A 12-block ViT (both methods name blocks by ViT-B/16's indices), width 128 with 2 heads of
64 (the official CLIP derives the heads as width // 64), OpenAI's QuickGELU. Every float
tensor is drawn in sorted-name order from one generator and rounded to fp16 values (the
official ``clip.load`` builds its model in fp16 and only then casts it to fp32 on a CPU);
the residual branches of the image tower are scaled by 0.1 so that a random 12-block tower
keeps its patch tokens apart."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MEAN = [122.771, 116.746, 104.094]
STD = [68.501, 66.632, 70.323]
TINY12 = dict(embed_dim=32,
              vision_cfg=dict(image_size=64, layers=12, width=128, patch_size=16,
                              head_width=64),
              text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=1,
                            layers=2),
              quick_gelu=True)


@torch.no_grad()
def seeded_weights_(module: torch.nn.Module, seed: int, branch: float = 1.0) -> None:
    """Fill every float tensor of ``module`` from one generator, in sorted-name order (see
    the module docstring); ``branch`` scales the residual branches' output projections."""
    gen = torch.Generator().manual_seed(seed)
    for name, t in sorted(module.state_dict(keep_vars=True).items()):
        if not t.is_floating_point() or 'attn_mask' in name:
            continue
        noise = torch.randn(t.shape, generator=gen)
        leaf = name.rsplit('.', 1)[-1]
        if 'positional_embedding' in name or 'class_embedding' in name:
            value = 0.5 * noise
        elif leaf == 'bias':
            value = 0.02 * noise
        elif t.ndim == 1:
            value = 1 + 0.1 * noise
        elif 'token_embedding' in name:
            value = noise
        elif name.endswith(('out_proj.weight', 'c_proj.weight')):
            value = branch * noise / math.sqrt(t[0].numel())
        elif leaf in ('proj', 'text_projection'):
            value = noise / math.sqrt(t.shape[0])
        else:
            value = noise / math.sqrt(t[0].numel())
        t.copy_(value.half().float())


def make_image(seed: int, h: int, w: int) -> torch.Tensor:
    """RGB pixels (3, h, w) in [0, 255]: smooth random colours (a 1/8 grid, bilinear)."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, max(1, h // 8), max(1, w // 8), generator=gen)
    return F.interpolate(low, size=(h, w), mode='bilinear', align_corners=False)[0] * 255


def normalise(rgb: torch.Tensor) -> torch.Tensor:
    """RGB pixels in [0, 255] -> the official codes' CLIP input."""
    return (rgb - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)


def seeded_towers() -> tuple[torch.nn.Module, torch.nn.Module]:
    """The seeded image tower (seed 0, residual branches x 0.1) and text tower (seed 1)."""
    from langseg.models.clip import build_text_tower, build_visual_tower
    visual = build_visual_tower(TINY12, None, True)
    text = build_text_tower(TINY12, None, True)
    seeded_weights_(visual, 0, branch=0.1)
    seeded_weights_(text, 1, branch=1.0)
    return visual, text


def weights_digest(visual: torch.nn.Module) -> float:
    """The image tower's sum of absolute values (stored with each recording)."""
    return sum(float(v.double().abs().sum()) for v in visual.state_dict().values())


def openai_state_dict() -> tuple[dict[str, torch.Tensor], float]:
    """The seeded towers as an OpenAI CLIP state dict (what the official ``clip.load``
    reads) and their digest."""
    visual, text = seeded_towers()
    state = {f'visual.{k}': v for k, v in visual.state_dict().items()}
    state.update({k: v for k, v in text.state_dict().items() if 'attn_mask' not in k})
    state['logit_scale'] = torch.tensor(math.log(1 / 0.07))
    return state, weights_digest(visual)


def load_seeded_towers(model: torch.nn.Module) -> float:
    """Give a dense CLIP segmentor the recorded towers' weights (through load_state_dict,
    the documented way to change frozen weights); returns the image tower's sum of absolute
    values (the recordings store it, so a changed generator shows as such)."""
    visual, text = seeded_towers()
    model.visual.load_state_dict(visual.state_dict())
    model.text_encoder.text.load_state_dict(text.state_dict())
    return weights_digest(visual)


#: every stored logit map is this sub-grid of the full one (rows 3::8, columns 5::8)
SUB = (slice(3, None, 8), slice(5, None, 8))
