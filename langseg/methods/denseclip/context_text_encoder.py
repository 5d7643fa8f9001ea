"""CLIP text encoder with learnable context tokens (CoOp style, as DenseCLIP uses it).

DenseCLIP (Rao et al., CVPR 2022, arXiv:2112.01518, Sec. 3.3, "context-aware prompting") replaces the hand-written
template by ``n_ctx`` learnable context vectors shared by all classes:

    tokens_k = [SOT, ctx_1 .. ctx_n, name_k tokens, EOT, pad]          (K, L, width)

with the class names tokenised alone (context length ``L - n_ctx``: SOT, <= 3 BPE tokens,
EOT for L = 13, n_ctx = 8), CLIP's causal mask and the positional embedding truncated to
the first ``L`` positions (as the official code, github.com/raoyongming/DenseCLIP). The EOT feature goes through
``ln_final`` and the text projection; the embedding is *not* l2-normalised here (DenseCLIP
normalises where it compares).

The text transformer's weights are frozen (``requires_grad=False``); gradients still flow
through it to the contexts. The official code instead leaves the weights trainable with
lr_mult 0, which its poly schedule's ``min_lr`` turns into a small drift.

The embeddings do not depend on the image. In training they are recomputed at each
forward (the contexts change); in eval mode they are cached and recomputed only when the
contexts (their values, compared with those the cache was computed from), the class list
or the weights change.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ...registry import MODELS
from ...models.clip.prompts import split_synonyms
from ...models.clip.text_encoder import (FrozenTextTower, resolve_class_names,
                                         text_tower_features, tokenize)
from ...utils.errors import ConfigError


@MODELS.register_module()
class LearnableContextTextEncoder(FrozenTextTower):
    """Class names + learnable contexts -> CLIP text embeddings ``(K, D)``.

    Args:
        arch: CLIP architecture (name or dict) whose text tower is used.
        pretrained: open_clip tag or weights file; loaded by :meth:`init_weights`.
        class_names: list of names or a dataset key (``'ade20k'``); synonyms are not
            supported here (one learnable prompt per class).
        n_ctx: number of learnable context vectors (DenseCLIP: 8).
        context_length: total sequence length (DenseCLIP: 13 = 8 contexts + 5).
        ctx_init_std: std of the truncated-normal context init (clipped to [-2, 2]).
        quick_gelu: activation of the tower; ``None`` decides from the weights.
    """

    def __init__(self,
                 arch: str | dict = 'RN50',
                 pretrained: str | None = None,
                 class_names: str | Sequence[str] = (),
                 n_ctx: int = 8,
                 context_length: int = 13,
                 ctx_init_std: float = 1.0,
                 quick_gelu: bool | None = None,
                 init_cfg: dict | None = None) -> None:
        if not 0 < n_ctx < context_length - 2:
            raise ConfigError(f'n_ctx={n_ctx} leaves no room for a class name in '
                              f'context_length={context_length}: expected '
                              '0 < n_ctx < context_length - 2')
        super().__init__(arch, pretrained, quick_gelu, init_cfg)
        if context_length > self.text.positional_embedding.shape[0]:
            raise ConfigError(f'context_length={context_length} exceeds the tower\'s '
                              f'{self.text.positional_embedding.shape[0]} positions: expected '
                              f'at most {self.text.positional_embedding.shape[0]}')
        self.n_ctx, self.context_length = n_ctx, context_length
        width = self.text.token_embedding.weight.shape[1]
        self.contexts = nn.Parameter(torch.empty(1, n_ctx, width))
        self.ctx_init_std = ctx_init_std
        nn.init.trunc_normal_(self.contexts, std=ctx_init_std, a=-2.0, b=2.0)
        self.register_buffer('name_tokens', None, persistent=False)
        self.register_buffer('embeddings', None, persistent=False)
        self._cache_key: tuple | None = None
        self.class_names: list[str] = []
        self.set_class_names(class_names)

    def set_class_names(self, class_names: str | Sequence[str]) -> None:
        """Tokenise the class names alone (SOT, name, EOT) in ``L - n_ctx`` tokens."""
        names = resolve_class_names(class_names)
        for name in names:
            if len(split_synonyms(name)) > 1:
                raise ConfigError(f'class name {name!r}: synonyms are not supported with '
                                  'learnable contexts (expected one name per class)')
        self.class_names = names
        self.name_tokens = tokenize(names, self.context_length - self.n_ctx) if names \
            else None
        self.invalidate_cache()

    def invalidate_cache(self) -> None:
        self.embeddings = None
        self._cache_key = None

    def forward_uncached(self) -> torch.Tensor:
        """Run the text transformer on [SOT, contexts, names, EOT]: ``(K, D)``. Without
        grad in eval mode (where :meth:`forward` caches) the result refreshes the cache,
        so get_flops, which counts this pass, encodes the classes once."""
        embeddings = self._encode()
        if not self.training and not torch.is_grad_enabled():
            self.embeddings = embeddings
            self._cache_key = (tuple(self.class_names), self.contexts.detach().clone())
        return embeddings

    def _encode(self) -> torch.Tensor:
        if self.name_tokens is None:
            raise ConfigError('no class names: set class_names in the config')
        text = self.text
        tokens = self.name_tokens.to(self.contexts.device)            # K, L - n_ctx
        k = tokens.shape[0]
        embedded = text.token_embedding(tokens)                      # K, L - n_ctx, W
        contexts = self.contexts.to(embedded.dtype).expand(k, -1, -1)
        x = torch.cat([embedded[:, :1], contexts, embedded[:, 1:]], dim=1)  # K, L, W
        eot = tokens.argmax(dim=-1) + self.n_ctx                     # EOT has the top id
        return text_tower_features(text, x, eot)

    def forward(self) -> torch.Tensor:
        """Class embeddings ``(K, D)``: fresh in training, cached in eval mode."""
        if self.training or torch.is_grad_enabled() and self.contexts.requires_grad:
            return self._encode()
        names = tuple(self.class_names)
        if self.embeddings is None or self._cache_key is None or \
                self._cache_key[0] != names or not torch.equal(self._cache_key[1],
                                                               self.contexts.detach()):
            with torch.no_grad():
                self.embeddings = self._encode()
            self._cache_key = (names, self.contexts.detach().clone())
        return self.embeddings
