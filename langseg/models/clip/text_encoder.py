"""CLIP text encoders turning class names into cached class embeddings: the one text path.

class names -> prompts (templates x synonyms) -> CLIP text transformer
(:func:`text_tower_features`, also used by the learnable-context encoder) -> l2-normalised
embeddings, averaged over templates (and over synonyms unless kept apart) and
re-normalised (:func:`class_prompt_embeddings`), the zero-shot classifier of CLIP
(Radford et al., ICML 2021, arXiv:2103.00020, Sec. 3.1.4).

The embeddings do not depend on the image: they are computed once, kept in a
non-persistent buffer, and recomputed only when the class list (or the weights) change.
Large vocabularies are encoded in batches with a progress bar.

A frozen tower's embeddings are also cached on disk (:func:`text_cache_dir`:
``$LANGSEG_CACHE_DIR/text_embeddings``, default ``~/.cache/langseg``;
``LANGSEG_CACHE_DIR=off`` disables it), so a demo, the web page or a benchmark does not
re-encode thousands of prompts at every start. The file name is a SHA-256 of everything
the embeddings depend on: the bytes of every tensor of the text tower (so another weights
file, or weights changed in place, never reuses an entry), the prompts' templates, the
class names, the synonym mode and the context length. Entries are written to a temporary
name and renamed, and read with ``weights_only=True``; an unreadable entry is recomputed.
"""
from __future__ import annotations

import hashlib
import os
import os.path as osp
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from open_clip.tokenizer import SimpleTokenizer

from ...registry import MODELS
from ...utils.errors import ConfigError
from ..layers.frozen import AlwaysEvalMixin
from .factory import build_text_tower, load_pretrained_tower
from .prompts import DEFAULT_TEMPLATE, resolve_templates, split_synonyms

_TOKENIZERS: dict[int, SimpleTokenizer] = {}


def text_cache_dir() -> str | None:
    """The folder of the on-disk text-embedding cache, or ``None`` when disabled."""
    root = os.environ.get('LANGSEG_CACHE_DIR')
    if root is not None and root.strip().lower() in ('', 'off', '0', 'none'):
        return None
    root = root or osp.join(osp.expanduser('~'), '.cache', 'langseg')
    return osp.join(root, 'text_embeddings')


def weights_digest(module: torch.nn.Module) -> str:
    """SHA-256 of the names, shapes, dtypes and bytes of every tensor of ``module``."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict(keep_vars=False).items()):
        if tensor is None:
            continue
        data = tensor.detach().cpu().contiguous()
        digest.update(f'{name}:{tuple(data.shape)}:{data.dtype};'.encode())
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b'')
    return digest.hexdigest()


def tokenize(texts: Sequence[str], context_length: int = 77) -> torch.Tensor:
    """CLIP BPE tokens ``(N, context_length)`` (open_clip's bundled vocabulary)."""
    if context_length not in _TOKENIZERS:
        _TOKENIZERS[context_length] = SimpleTokenizer(context_length=context_length)
    return _TOKENIZERS[context_length](list(texts))


def text_tower_features(text: torch.nn.Module, embeddings: torch.Tensor,
                        eot_index: torch.Tensor) -> torch.Tensor:
    """The one forward of an open_clip ``TextTransformer`` that every text path uses:
    token embeddings ``(N, L, width)`` (any ``L`` up to the context; learnable contexts
    included) -> + positions ``[:L]`` -> transformer with the causal mask cut to ``L`` ->
    ``ln_final`` -> the feature at ``eot_index`` (N,) -> text projection: ``(N, D)``, not
    normalised; gradients flow."""
    n, length = embeddings.shape[:2]
    if length > text.positional_embedding.shape[0]:
        raise ConfigError(f'{length} tokens exceed the text context of '
                          f'{text.positional_embedding.shape[0]}: expected a context_length '
                          f'of at most {text.positional_embedding.shape[0]}')
    x = embeddings + text.positional_embedding[:length].to(embeddings.dtype)
    mask = torch.full((length, length), float('-inf'), device=x.device).triu_(1) \
        if getattr(text, 'attn_mask', None) is not None else None
    x = text.ln_final(text.transformer(x, attn_mask=None if mask is None else
                                       mask.to(x.dtype)))
    x = x[torch.arange(n, device=x.device), eot_index]
    proj = text.text_projection
    if proj is None:
        return x
    return proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj


def encode_text_tokens(text: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Projected EOT features ``(N, D)`` of CLIP tokens ``(N, L)`` (the EOT token has the
    largest id), through :func:`text_tower_features`. Not normalised; gradients flow."""
    return text_tower_features(text, text.token_embedding(tokens), tokens.argmax(dim=-1))


def class_prompt_embeddings(encode: Callable[[torch.Tensor], torch.Tensor],
                            class_names: Sequence[str], templates: Sequence[str],
                            context_length: int, synonyms: str = 'mean',
                            batch_size: int = 256, device: torch.device | str = 'cpu'
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """The one way class names become text embeddings (Radford et al., "Learning
    Transferable Visual Models From Natural Language Supervision", ICML 2021,
    arXiv:2103.00020, Sec. 3.1.4, prompt ensembling):

    every synonym of every class (``"car; automobile"``) is filled into every template;
    each prompt's embedding (``encode(tokens)``) is l2-normalised, averaged over the
    templates and re-normalised (ProxyCLIP's and CLIP's ensembling). ``synonyms='mean'``
    then averages a class's synonyms the same way (normalised sum); ``'none'`` keeps one
    row per synonym. Returns ``(embeddings (Q, D), owner (Q,))``, ``owner`` the class of
    each row. Prompts go through ``encode`` in batches of ``batch_size`` (a progress bar
    when there are several).
    """
    if synonyms not in ('mean', 'none'):
        raise ConfigError(f"synonyms={synonyms!r}: expected 'mean' or 'none'")
    if not class_names:
        raise ConfigError('no class names: set class_names in the config')
    groups = [split_synonyms(name) for name in class_names]
    words = [w for group in groups for w in group]
    prompts = [t.format(w) for w in words for t in templates]
    starts = range(0, len(prompts), batch_size)
    if len(starts) > 1:
        from tqdm import tqdm
        starts = tqdm(starts, desc=f'encoding {len(prompts)} prompts', unit='batch')
    feats = []
    for start in starts:
        tokens = tokenize(prompts[start:start + batch_size], context_length).to(device)
        feats.append(F.normalize(encode(tokens).float(), dim=-1))
    emb = torch.cat(feats).reshape(len(words), len(templates), -1).mean(1)
    emb = F.normalize(emb, dim=-1)
    owner = torch.tensor([i for i, g in enumerate(groups) for _ in g], device=emb.device)
    if synonyms == 'mean':
        summed = emb.new_zeros(len(groups), emb.shape[1]).index_add_(0, owner, emb)
        emb, owner = F.normalize(summed, dim=-1), torch.arange(len(groups),
                                                                device=emb.device)
    return emb, owner


def resolve_class_names(class_names: str | Sequence[str]) -> list[str]:
    """A list of class names, the key of a dataset's list (``'ade20k'``, see
    ``langseg.utils.class_names``), or a vocabulary file (``'cls_voc21.txt'`` from
    ``langseg/utils/vocabularies/``, or any path): one class per line, synonyms
    separated by ``;``, ``#`` starts a comment."""
    if isinstance(class_names, str):
        if class_names.endswith('.txt'):
            from ...utils.class_names import read_vocabulary
            return read_vocabulary(class_names)
        from ...utils.class_names import get_class_names
        return list(get_class_names(class_names))
    return [str(c) for c in class_names]


class FrozenTextTower(AlwaysEvalMixin, BaseModule):
    """A CLIP text transformer, frozen: built from ``arch``, loaded from ``pretrained`` by
    :meth:`init_weights`, ``requires_grad=False`` and always in eval mode. Subclasses keep
    a cache of class embeddings and drop it in :meth:`invalidate_cache` whenever the
    weights change (loading, ``load_state_dict``)."""

    always_eval = ('text', )  # frozen

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



@MODELS.register_module()
class CLIPClassTextEncoder(FrozenTextTower):
    """Class names -> l2-normalised CLIP text embeddings, computed once and cached.

    Args:
        arch: CLIP architecture name or dict (``langseg.models.clip.architectures``).
        pretrained: open_clip tag or weights file; loaded by :meth:`init_weights`.
        class_names: a list of names (each may be ``"syn1; syn2"``), a dataset key such
            as ``'ade20k'`` or a vocabulary file.
        templates: one template, a list, or ``'openai_imagenet'`` (80 templates).
        synonyms: ``'mean'`` averages the synonyms of a class into one embedding;
            ``'none'`` keeps one embedding per synonym (see :attr:`query_to_class`).
        batch_size: prompts per text forward.
        quick_gelu: activation of the tower; ``None`` decides from the weights.
        trainable: train the tower (SegCLIP) instead of freezing it; in training mode the
            embeddings are then recomputed at every call (an optimiser step may have
            changed the weights), and switching modes drops the cache.
        frozen_params: with ``trainable``, the parameters kept frozen (name prefixes in
            the tower, e.g. ``('token_embedding', 'positional_embedding')``).
        context_length: tokens per prompt (default: the tower's, 77).
    """

    def __init__(self,
                 arch: str | dict = 'RN50',
                 pretrained: str | None = None,
                 class_names: str | Sequence[str] = (),
                 templates: str | Sequence[str] = DEFAULT_TEMPLATE,
                 synonyms: str = 'mean',
                 batch_size: int = 256,
                 quick_gelu: bool | None = None,
                 trainable: bool = False,
                 frozen_params: Sequence[str] = (),
                 context_length: int | None = None,
                 init_cfg: dict | None = None) -> None:
        if synonyms not in ('mean', 'none'):
            raise ConfigError(f"synonyms={synonyms!r}: expected 'mean' or 'none'")
        super().__init__(arch, pretrained, quick_gelu, init_cfg)
        self.trainable = bool(trainable)
        if self.trainable:
            for name, param in self.text.named_parameters():
                param.requires_grad_(not name.startswith(tuple(frozen_params)))
        self.templates = resolve_templates(templates)
        self.synonyms = synonyms
        self.batch_size = int(batch_size)
        self._context_length = context_length
        self.register_buffer('embeddings', None, persistent=False)
        self.register_buffer('query_to_class', None, persistent=False)
        self._cache_key: tuple | None = None
        self.class_names: list[str] = []
        self.set_class_names(class_names)

    # ------------------------------------------------------------------ configuration
    @property
    def context_length(self) -> int:
        return self._context_length or self.text.context_length

    @property
    def always_eval(self) -> tuple[str, ...]:
        return () if self.trainable else ('text', )

    def train(self, mode: bool = True) -> 'CLIPClassTextEncoder':
        if self.trainable:
            self.invalidate_cache()  # the weights may change in training
        return super().train(mode)

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
        self._weights_digest: str | None = None

    # ----------------------------------------------------------------------- encoding
    def encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Projected, unnormalised EOT features ``(N, D)`` of CLIP tokens (with grad when
        the tower is trainable and grad is enabled)."""
        return encode_text_tokens(self.text, tokens)

    def _encode_classes(self, use_disk_cache: bool = True
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.text.positional_embedding.device
        path = None if self.trainable or not use_disk_cache else self._disk_cache_path()
        if path is not None and osp.isfile(path):
            try:
                entry = torch.load(path, map_location='cpu', weights_only=True)
                return entry['embeddings'].to(device), entry['owner'].to(device)
            except Exception:  # noqa: BLE001  - a broken entry is recomputed and replaced
                pass
        with torch.no_grad(), torch.autocast(device.type, enabled=False):
            embeddings, owner = class_prompt_embeddings(
                self.encode_tokens, self.class_names, self.templates, self.context_length,
                self.synonyms, self.batch_size, device)
        if path is not None:
            try:
                os.makedirs(osp.dirname(path), exist_ok=True)
                tmp = f'{path}.partial-{os.getpid()}'
                torch.save(dict(embeddings=embeddings.cpu(), owner=owner.cpu()), tmp)
                os.replace(tmp, path)
            except OSError:
                pass   # a read-only cache folder only costs the re-encoding next time
        return embeddings, owner

    def _disk_cache_path(self) -> str | None:
        """The cache file of the current weights, prompts and names (module docstring)."""
        folder = text_cache_dir()
        if folder is None:
            return None
        if getattr(self, '_weights_digest', None) is None:  # dropped with the cache
            self._weights_digest = weights_digest(self.text)
        key = hashlib.sha256(repr((self._weights_digest, list(self.templates),
                                   list(self.class_names), self.synonyms,
                                   int(self.context_length))).encode()).hexdigest()
        return osp.join(folder, f'{key}.pt')

    def forward_uncached(self) -> torch.Tensor:
        """Compute the class (or synonym) embeddings ``(Q, D)`` from scratch: through the
        tower, neither the in-memory nor the on-disk cache read (what get_flops counts).
        The result refreshes the in-memory cache where :meth:`forward` would keep it
        (not for a trainable tower in training), so get_flops encodes the prompts once."""
        embeddings, owner = self._encode_classes(use_disk_cache=False)
        if not (self.trainable and self.training):
            self.embeddings, self.query_to_class = embeddings, owner
            self._cache_key = self._key()
        return embeddings

    def _key(self) -> tuple:
        return (tuple(self.class_names), tuple(self.templates), self.synonyms)

    def forward(self) -> torch.Tensor:
        """The cached embeddings ``(Q, D)``: one row per class, or per synonym with
        ``synonyms='none'`` (:attr:`query_to_class` maps rows to classes)."""
        key = self._key()
        if self.trainable and self.training:
            self.invalidate_cache()  # an optimiser step may have changed the weights
        if self.embeddings is None or self._cache_key != key:
            self.embeddings, self.query_to_class = self._encode_classes()
            self._cache_key = key
        return self.embeddings


@MODELS.register_module()
class FrozenCLIPTextEncoder(CLIPClassTextEncoder):
    """:class:`CLIPClassTextEncoder` with the tower frozen (the language-guided models' and
    ProxyCLIP's text side)."""

    def __init__(self, *args, **kwargs) -> None:
        if kwargs.get('trainable'):
            raise ConfigError('FrozenCLIPTextEncoder(trainable=True): expected '
                              'CLIPClassTextEncoder with trainable=True for a trainable tower')
        super().__init__(*args, **kwargs)
