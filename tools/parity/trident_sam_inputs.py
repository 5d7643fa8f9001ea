"""The seeded inputs of the SAM-decoder and Trident-refinement parity runs: the recording
script (tools/parity/record_trident_sam.py) gives them to the official segment-anything and
Trident code, and the tests (tests/test_sam_prompt.py, tests/test_zoo_trident.py) rebuild
them from the same seeds."""
from __future__ import annotations

import torch
import torch.nn.functional as F

DECODER_KW = dict(embed_dim=32, mask_in_chans=16, depth=2, num_heads=2, mlp_dim=64,
                  iou_head_hidden_dim=32)
E2E_DECODER_KW = dict(embed_dim=16, mask_in_chans=8, depth=2, num_heads=2, mlp_dim=32,
                      iou_head_hidden_dim=16)
ORIGINAL = (180, 240)             # the image size the decoder prompts refer to


def tiny_decoder(image_size: int, seed: int = 11, kw: dict = DECODER_KW):
    """langseg's seeded decoder (the test builds the same): default init, then every
    parameter moved by seeded noise (LayerNorm affines, biases far from 1 and 0), and the
    single-mask token's hypernetwork bias raised by 1 (its random masks then cover a part
    of the image instead of almost none of it)."""
    dec = noised_decoder(image_size, seed, 0.2, kw)
    with torch.no_grad():
        dec.mask_decoder.output_hypernetworks_mlps[0].layers[-1].bias.add_(1.0)
    return dec


def noised_decoder(image_size: int, seed: int, scale: float, kw: dict):
    """langseg's ``SamPromptDecoder`` with default init under ``seed``, then every
    parameter (in name order) moved by ``scale`` times seeded normal noise (seed + 1)."""
    from langseg.models.backbones.sam_prompt import SamPromptDecoder
    torch.manual_seed(seed)
    dec = SamPromptDecoder(image_size=image_size, **kw).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _, p in sorted(dec.named_parameters()):
            p.add_(scale * torch.randn(p.shape, generator=g))
    return dec


def decoder_cases():
    """Part 1's prompts in the original frame (``ORIGINAL``) and the image embedding."""
    g = torch.Generator().manual_seed(21)
    h, w = ORIGINAL
    emb = torch.randn(1, 32, 16, 16, generator=g)

    def points(b, n):
        return torch.rand(b, n, 2, generator=g) * torch.tensor([w, h])

    def boxes(b):
        a = torch.rand(b, 2, generator=g) * torch.tensor([w / 2, h / 2])
        return torch.cat([a, a + 20 + torch.rand(b, 2, generator=g) * 80], dim=1)

    def masks(b):
        return 3 * torch.randn(b, 1, 64, 64, generator=g)
    cases = dict(
        points=dict(point_coords=points(2, 3),
                    point_labels=torch.tensor([[1, 0, 1], [1, 1, -1]]), multimask=True),
        boxes=dict(boxes=boxes(3), multimask=False),
        all_multi=dict(point_coords=points(2, 2), point_labels=torch.tensor([[1, 0], [0, 1]]),
                       boxes=boxes(2), mask_input=masks(2), multimask=True),
        mask_only=dict(mask_input=masks(1), multimask=True),
        unbatched_mask=dict(point_coords=points(3, 1), point_labels=torch.ones(3, 1),
                            boxes=boxes(3), mask_input=masks(1)[0], multimask=False))
    cases['all_single'] = dict(cases['all_multi'], multimask=False)
    return emb, cases


def refine_inputs(size, classes, prob_thd, seed):
    """Part 2's coarse map: smooth random class scores (and a little speckle, for regions
    below the area limit) -> probabilities (K, H, W), labels (H, W) (below ``prob_thd``:
    class 0), and a random image embedding (1, 32, 64, 64)."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    coarse = torch.randn(1, classes, 5, 7, generator=g)
    scores = F.interpolate(coarse, size=size, mode='bicubic', align_corners=False)[0]
    scores = scores + 0.6 * (torch.rand(classes, h, w, generator=g) > 0.995).float()
    probs = torch.softmax(6 * scores, dim=0)
    best, labels = probs.max(dim=0)
    labels[best < prob_thd] = 0
    emb = torch.randn(1, 32, 64, 64, generator=g)
    return labels, probs, emb
