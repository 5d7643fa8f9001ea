"""A frozen CLIP text encoder turning class names into cached class embeddings.

class names -> prompts (templates x synonyms) -> CLIP text transformer -> l2-normalised
embeddings, averaged over templates (and over synonyms unless kept apart) and
re-normalised, the zero-shot classifier of CLIP (Radford et al. 2021, Sec. 3.1.4).

The embeddings do not depend on the image: they are computed once, kept in a
non-persistent buffer, and recomputed only when the class list (or the weights) change.
Large vocabularies are encoded in batches with a progress bar.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from open_clip.tokenizer import SimpleTokenizer

from ...registry import MODELS
from .factory import build_text_tower, load_pretrained_tower
from .prompts import DEFAULT_TEMPLATE, resolve_templates, split_synonyms

_TOKENIZERS: dict[int, SimpleTokenizer] = {}


def tokenize(texts: Sequence[str], context_length: int = 77) -> torch.Tensor:
    """CLIP BPE tokens ``(N, context_length)`` (open_clip's bundled vocabulary)."""
    if context_length not in _TOKENIZERS:
        _TOKENIZERS[context_length] = SimpleTokenizer(context_length=context_length)
    return _TOKENIZERS[context_length](list(texts))


def encode_text_tokens(text: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Projected EOT features ``(N, D)`` of an open_clip ``TextTransformer`` for tokens of
    any length up to its context (e.g. SegCLIP's 32): open_clip's own forward with the
    causal mask cut to the sequence (open_clip keeps a full-context mask). Not normalised;
    gradients flow (a trainable tower)."""
    n, length = tokens.shape
    if length > text.context_length:
        raise ValueError(f'{length} tokens exceed the text context of {text.context_length}')
    x = text.token_embedding(tokens) + text.positional_embedding[:length]
    mask = text.attn_mask[:length, :length] if text.attn_mask is not None else None
    x = text.ln_final(text.transformer(x, attn_mask=mask))
    x = x[torch.arange(n, device=x.device), tokens.argmax(dim=-1)]     # the EOT token
    proj = text.text_projection
    if proj is None:
        return x
    return proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj


def resolve_class_names(class_names: str | Sequence[str]) -> list[str]:
    """A list of class names, the key of a dataset's list (``'ade20k'``, see
    ``langseg.datasets.class_names``), or a vocabulary file (``'voc21.txt'`` from
    ``langseg/datasets/vocabularies/``, or any path): one class per line, synonyms
    separated by ``;``, ``#`` starts a comment."""
    if isinstance(class_names, str):
        if class_names.endswith('.txt'):
            from ...datasets.class_names import read_vocabulary
            return read_vocabulary(class_names)
        from ...datasets.class_names import get_class_names
        return list(get_class_names(class_names))
    return [str(c) for c in class_names]


class FrozenTextTower(BaseModule):
    """A CLIP text transformer, frozen: built from ``arch``, loaded from ``pretrained`` by
    :meth:`init_weights`, ``requires_grad=False`` and always in eval mode. Subclasses keep
    a cache of class embeddings and drop it in :meth:`invalidate_cache` whenever the
    weights change (loading, ``load_state_dict``)."""

    def __init__(self, arch: str | dict, pretrained: str | None,
                 quick_gelu: bool | None, init_cfg: dict | None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch, self.pretrained = arch, pretrained
        self.text = build_text_tower(arch, pretrained, quick_gelu)
        self.text.requires_grad_(False)
        self.text.eval()

    @property
    def embed_dim(self) -> int:
        return self.text.output_dim

    def invalidate_cache(self) -> None:
        raise NotImplementedError

    def init_weights(self) -> None:
        """Load the CLIP text weights named by ``pretrained`` (and drop the cache)."""
        super().init_weights()
        if self.pretrained is not None:
            load_pretrained_tower(self.text, self.arch, self.pretrained, 'text',
                                  'the text encoder')
        self.invalidate_cache()

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self.invalidate_cache()  # new weights, new embeddings

    def train(self, mode: bool = True) -> 'FrozenTextTower':
        super().train(mode)
        self.text.eval()  # frozen: always in inference mode
        return self


@MODELS.register_module()
class FrozenCLIPTextEncoder(FrozenTextTower):
    """Class names -> l2-normalised CLIP text embeddings, computed once and cached.

    Args:
        arch: CLIP architecture name or dict (``langseg.models.clip.architectures``).
        pretrained: open_clip tag or weights file; loaded by :meth:`init_weights`.
        class_names: a list of names (each may be ``"syn1; syn2"``) or a dataset key
            such as ``'ade20k'``.
        templates: one template, a list, or ``'openai_imagenet'`` (80 templates).
        synonyms: ``'mean'`` averages the synonyms of a class into one embedding;
            ``'none'`` keeps one embedding per synonym (see :attr:`query_to_class`).
        batch_size: prompts per text forward.
        quick_gelu: activation of the tower; ``None`` decides from the weights.
    """

    def __init__(self,
                 arch: str | dict = 'RN50',
                 pretrained: str | None = None,
                 class_names: str | Sequence[str] = (),
                 templates: str | Sequence[str] = DEFAULT_TEMPLATE,
                 synonyms: str = 'mean',
                 batch_size: int = 256,
                 quick_gelu: bool | None = None,
                 init_cfg: dict | None = None) -> None:
        if synonyms not in ('mean', 'none'):
            raise ValueError(f"synonyms must be 'mean' or 'none', got {synonyms!r}")
        super().__init__(arch, pretrained, quick_gelu, init_cfg)
        self.templates = resolve_templates(templates)
        self.synonyms = synonyms
        self.batch_size = int(batch_size)
        self.register_buffer('embeddings', None, persistent=False)
        self.register_buffer('query_to_class', None, persistent=False)
        self._cache_key: tuple | None = None
        self.class_names: list[str] = []
        self.set_class_names(class_names)

    # ------------------------------------------------------------------ configuration
    @property
    def context_length(self) -> int:
        return self.text.context_length

    def set_class_names(self, class_names: str | Sequence[str]) -> None:
        """Use another class list; the cache is dropped only if the list changed."""
        names = resolve_class_names(class_names)
        for name in names:
            split_synonyms(name)  # validates
        if names != self.class_names:
            self.class_names = names
            self.invalidate_cache()

    def invalidate_cache(self) -> None:
        self.embeddings = None
        self.query_to_class = None
        self._cache_key = None

    # ----------------------------------------------------------------------- encoding
    @torch.no_grad()
    def encode_prompts(self, prompts: Sequence[str]) -> torch.Tensor:
        """l2-normalised embeddings ``(N, D)`` of raw prompt strings, in batches."""
        device = self.text.positional_embedding.device
        batches = range(0, len(prompts), self.batch_size)
        if len(batches) > 1:
            from tqdm import tqdm
            batches = tqdm(batches, desc=f'encoding {len(prompts)} prompts', unit='batch')
        out = []
        for start in batches:
            tokens = tokenize(prompts[start:start + self.batch_size], self.context_length)
            out.append(F.normalize(self.text(tokens.to(device)).float(), dim=-1))
        return torch.cat(out) if out else torch.zeros(0, self.embed_dim, device=device)

    def _encode_classes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings ``(Q, D)`` and the class index of each row, from scratch."""
        if not self.class_names:
            raise ValueError('no class names: set class_names in the config')
        groups = [split_synonyms(name) for name in self.class_names]
        words = [w for group in groups for w in group]
        prompts = [t.format(w) for w in words for t in self.templates]
        with torch.autocast(self.text.positional_embedding.device.type, enabled=False):
            emb = self.encode_prompts(prompts)
        emb = F.normalize(emb.reshape(len(words), len(self.templates), -1).mean(1), dim=-1)
        owner = torch.tensor([i for i, g in enumerate(groups) for _ in g], device=emb.device)
        if self.synonyms == 'mean':
            summed = torch.zeros(len(groups), emb.shape[1], device=emb.device)
            summed.index_add_(0, owner, emb)
            emb, owner = F.normalize(summed, dim=-1), torch.arange(len(groups), device=emb.device)
        return emb, owner

    def forward_uncached(self) -> torch.Tensor:
        """Compute the class (or synonym) embeddings ``(Q, D)`` from scratch."""
        return self._encode_classes()[0]

    def forward(self) -> torch.Tensor:
        """The cached embeddings ``(Q, D)``: one row per class, or per synonym with
        ``synonyms='none'`` (:attr:`query_to_class` maps rows to classes)."""
        key = (tuple(self.class_names), tuple(self.templates), self.synonyms)
        if self.embeddings is None or self._cache_key != key:
            self.embeddings, self.query_to_class = self._encode_classes()
            self._cache_key = key
        return self.embeddings
