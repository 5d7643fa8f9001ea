"""What a backbone hands to a fusion module: :class:`BackboneOutput`.

The rule (docs/architecture.md, "Seams"):

* a CLIP backbone built ``with_embeddings=True`` (``CLIPResNet``, ``CLIPViT``) returns a
  :class:`BackboneOutput`: its stage maps plus the (global, dense) embeddings of CLIP's
  attention pool or projected tokens, by name;
* every other backbone (a CLIP backbone ``with_embeddings=False``, timm's, mmseg's)
  returns mmseg's plain tuple of maps, so it plugs into any mmseg neck or head unchanged.

The language-guided segmentor reads either with :meth:`BackboneOutput.of` (a plain tuple
becomes ``BackboneOutput(maps, embeddings=None)``) and hands the fusion module a
``BackboneOutput``; the neck then receives maps only. Nothing finds the embeddings by
counting list elements.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch


class Embeddings(NamedTuple):
    """A CLIP image tower's embeddings, in the text width C.

    Attributes:
        global_emb: the image embedding (B, C) (CLIP's pooled / class token).
        dense: the per-position embeddings (B, C, H, W).
    """

    global_emb: torch.Tensor
    dense: torch.Tensor


@dataclass(frozen=True)
class BackboneOutput:
    """A backbone's maps and, for CLIP backbones, its embeddings.

    Attributes:
        maps: the stage maps, in ``out_indices`` order (what a neck receives).
        embeddings: the (global, dense) :class:`Embeddings`, or ``None`` when the backbone
            does not make them.
    """

    maps: tuple[torch.Tensor, ...]
    embeddings: Embeddings | None = None

    @classmethod
    def of(cls, features: 'BackboneOutput | Sequence[torch.Tensor]') -> 'BackboneOutput':
        """``features`` as a :class:`BackboneOutput`: a plain sequence of maps (mmseg's
        backbones, timm's, a CLIP backbone without embeddings) gets ``embeddings=None``."""
        if isinstance(features, cls):
            return features
        if isinstance(features, torch.Tensor) or not all(
                isinstance(f, torch.Tensor) for f in features):
            raise TypeError(f'a backbone returned {type(features).__name__}: expected a '
                            'BackboneOutput or a tuple of maps (B, C, H, W)')
        return cls(tuple(features))
