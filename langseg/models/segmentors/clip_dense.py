"""The shared base of the training-free segmentors that read dense features out of a CLIP
ViT: :class:`CLIPDenseSegmentor`.

A CLIP image tower pools its patch tokens into one image embedding; the training-free
dense methods change only how its *last* block treats the patch tokens so that every
token keeps its own, localised CLIP embedding (MaskCLIP's value path, Zhou et al.,
"Extract Free Dense Labels from CLIP", ECCV 2022, arXiv:2112.01071, Sec. 3.1; the
self-self / correlative / neighbourhood attentions of SCLIP, ClearCLIP, NACLIP; the proxy
attention of a vision foundation model in ProxyCLIP, Lan et al., ECCV 2024,
arXiv:2408.04883, Sec. 3.2). Everything else is common and lives here:

* the ``clip`` settings (``arch``, ``pretrained``, ``quick_gelu``, ``mean``, ``std``), the
  image tower (open_clip's ``VisionTransformer``, refused in one line when its last block
  cannot give dense tokens) and the frozen text encoder with the class-name API;
* the towers' weights: loaded at first use when the config names weights and neither
  ``init_weights`` nor a checkpoint gave them; extra towers (a VFM) through
  :meth:`CLIPDenseSegmentor.extra_towers`;
* precision: autocast on CUDA (``precision``), fp32 or bf16 copies of the towers on a CPU
  (``cpu_precision``);
* the input: RGB pixels in [0, 255] (the preprocessor normalises nothing; CLIP's
  normalisation here, windows padded with CLIP's mean colour, PAMR guided by CLIP's view);
* the window scores: dense features, cosine with the l2-normalised text queries,
  bilinear upsampling to the window (:meth:`CLIPDenseSegmentor.window_logits`); the
  windows, merging and post-processing are the shared open-vocabulary path
  (``langseg.models.segmentors.open_vocab``).

A method is a small subclass. Its hook is :meth:`CLIPDenseSegmentor.last_block`
(``(block, tokens, grid, rgb) -> (patch tokens, grid)``: what the last block makes of its
input tokens, ready for ``ln_post``); the head after it (:meth:`~CLIPDenseSegmentor.
out_proj`, :meth:`~CLIPDenseSegmentor.head`: ``ln_post``, ``proj``, l2 normalisation) and
the pass through the earlier blocks (:meth:`~CLIPDenseSegmentor.encode_tokens`) are
reusable methods; a multi-level method overrides :meth:`~CLIPDenseSegmentor.
dense_features` with them.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from torch import nn

from ..clip import (FrozenCLIPTextEncoder, build_visual_tower, embed_vit_tokens,
                    get_clip_config, is_resnet, load_pretrained_tower)
from ..layers import AlwaysEvalMixin, grid_interpolation, residual_block_forward
from ..layers.area_filter import area_filter
from ...utils.class_names import read_vocabulary
from ...utils.errors import ConfigError
from ...utils.precision import PRECISIONS, autocast_for, resolve_precision
from .open_vocab import InferenceOptions, OpenVocabSegmentor, check_mmseg_build_args

CLIP_KEYS = ('arch', 'pretrained', 'quick_gelu', 'mean', 'std')
#: The window of ``slide_crop=0``: larger than any image, so each image is one window.
WHOLE_IMAGE = 1 << 16


def clip_statistics(arch: str, pretrained: str | None, mean=None, std=None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The CLIP tower's input normalisation (1, 3, 1, 1) in [0, 255] units: ``mean`` /
    ``std`` when given, else open_clip's for the weights' tag (``get_pretrained_cfg``),
    else OpenAI's."""
    import open_clip
    cfg = {}
    if mean is None or std is None:
        try:
            cfg = open_clip.get_pretrained_cfg(arch, pretrained) if pretrained else {}
        except Exception:  # noqa: BLE001  - a local weights file has no tag
            cfg = {}
    values = []
    for given, key, default in ((mean, 'mean', OPENAI_DATASET_MEAN),
                                (std, 'std', OPENAI_DATASET_STD)):
        if given is None:
            given = [255 * v for v in (cfg.get(key) or default)]
        if len(given) != 3:
            raise ConfigError(f'clip.{key} {list(given)}: expected 3 values (RGB, 0-255)')
        values.append(torch.tensor([float(v) for v in given]).view(1, 3, 1, 1))
    return values[0], values[1]


def check_dense_clip_tower(visual: nn.Module, arch, method: str = 'this method') -> None:
    """Refuse an open_clip image tower whose last block cannot give dense tokens: the dense
    CLIP methods (``method`` names the one asking) rewrite the last block's
    ``nn.MultiheadAttention`` from its packed projections and project every token with
    ``ln_post`` and ``proj``; towers built on timm (SigLIP-class, ``TimmModel``), with
    attentional pooling (CoCa) or without a packed attention cannot."""
    name = arch if isinstance(arch, str) else 'the CLIP architecture dict'
    blocks = getattr(getattr(visual, 'transformer', None), 'resblocks', None)
    if blocks is None:
        raise ConfigError(f'the image tower of {name} is a {type(visual).__name__}, not '
                          f"open_clip's VisionTransformer: {method} needs a ViT whose last "
                          'block is a multi-head self-attention (OpenAI, LAION, MetaCLIP, '
                          'DFN ViTs)')
    attn = getattr(blocks[-1], 'attn', None)
    if not isinstance(attn, nn.MultiheadAttention) or attn.in_proj_weight is None:
        raise ConfigError(f'the last block of {name} has no packed multi-head attention '
                          f'(in_proj_weight): {method} rewrites its attention and needs '
                          'its query, key and value projections')
    if getattr(visual, 'attn_pool', None) is not None:
        raise ConfigError(f'{name} uses attentional pooling: its output tokens are pooled '
                          f'queries, not one per patch; {method} needs a ViT with a plain '
                          'ln_post + projection head')


class CLIPDenseSegmentor(AlwaysEvalMixin, OpenVocabSegmentor):
    """Base of the training-free dense CLIP segmentors (see the module docstring).

    Subclasses implement :meth:`last_block` (or override :meth:`dense_features`) and
    register themselves; extra towers (a VFM) are children the subclass builds and names
    in :meth:`extra_towers`.

    Args:
        class_names: list of names (``"cat; kitten"`` for synonyms, one line of background
            words for class 0) or a dataset key.
        clip: ``dict(arch='ViT-B-16', pretrained='openai')``: any open_clip ViT; an optional
            ``quick_gelu=True/False`` names the towers' activation (``None``: decided from
            the weights, then the architecture; ``langseg.models.clip.loading``); optional
            ``mean``/``std``: the CLIP tower's input normalisation in [0, 255] units
            (default: open_clip's for the weights' tag, else OpenAI's).
        templates: prompt templates (default: the 80 OpenAI ImageNet templates).
        logit_scale: multiplies the cosines before the softmax.
        prob_thd: below this probability a pixel becomes class 0.
        slide_crop, slide_stride: window size and stride (int or (h, w)); ``slide_crop=0``:
            each image whole, as one window (the official codes' ``slide_crop=0``).
        pad_multiple: windows are padded to a multiple of this (0: none), with CLIP's
            mean colour.
        window_batch_size: windows per forward (int or ``'auto'``).
        short_side: resize each image to this short side first (``None``: as given).
        precision: autocast on CUDA: 'fp16', 'bf16', 'fp32' or 'auto' (fp16).
        cpu_precision: on a CPU: 'fp32' (default, exact), 'bf16' or 'auto' (bf16 where the
            CPU has native bf16 instructions, ``langseg.utils.precision``).
        pos_interp: how CLIP's positional grid is resized to a window's grid
            (``langseg.models.layers.pos_embed``).
        pamr, tile_rows, keep_probs: the shared post-processing
            (``langseg.models.segmentors.open_vocab``).
        synonym_separator: what separates synonyms on a line of a vocabulary file named
            by ``class_names`` (``';'``, langseg's; ``','``: the official files of SCLIP,
            ClearCLIP, NACLIP).
        area_thd: SCLIP's small-region filter (``langseg.models.layers.area_filter``;
            the official SCLIP and SC-CLIP VOC21 setting 0.1): after the softmax, the
            foreground classes whose argmax region covers at most this fraction of the
            foreground-argmax pixels get probability 0, before the argmax and
            ``prob_thd``; ``None`` (default): off.
        data_preprocessor: mmseg's ``SegDataPreProcessor`` with ``bgr_to_rgb`` and no
            ``mean``/``std`` (the towers normalise their input themselves; a preprocessor
            that normalises is refused).
    """

    training_free = True
    always_eval = ('', )  # training-free: always in inference mode
    #: what names the model's weights (the message of a refused ``model.pretrained``)
    weights_from = 'clip.pretrained'

    def __init__(self, class_names: str | Sequence[str], clip: dict | None = None,
                 templates: str | Sequence[str] = 'openai_imagenet',
                 logit_scale: float | None = 40.0, prob_thd: float = 0.0,
                 slide_crop: int | Sequence[int] = 336,
                 slide_stride: int | Sequence[int] = 112, pad_multiple: int = 0,
                 window_batch_size: int | str = 'auto', short_side: int | None = None,
                 precision: str = 'fp16', cpu_precision: str = 'fp32',
                 pos_interp: str | dict = 'bicubic-offset',
                 pamr: dict | None = None, tile_rows: int = 512, keep_probs: bool = True,
                 synonym_separator: str = ';', area_thd: float | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None,
                 train_cfg: dict | None = None, pretrained: str | None = None) -> None:
        check_mmseg_build_args(type(self).__name__, train_cfg, pretrained,
                               self.weights_from)
        if data_preprocessor is not None and (data_preprocessor.get('mean') is not None
                                              or data_preprocessor.get('std') is not None):
            raise ConfigError(
                f'{type(self).__name__} normalises each tower\'s input itself: set the CLIP '
                "statistics as model.clip.mean / model.clip.std and leave "
                'model.data_preprocessor.mean / std unset (the preprocessor keeps '
                'bgr_to_rgb and padding)')
        for value in (precision, cpu_precision):
            if value not in PRECISIONS:
                raise ConfigError(f'precision {value!r}: expected one of '
                                  f'{", ".join(PRECISIONS)}')
        clip = dict(arch='ViT-B-16', pretrained='openai') if clip is None else dict(clip)
        unknown = set(clip) - set(CLIP_KEYS)
        if unknown:
            raise ConfigError(f'clip settings {sorted(unknown)} are unknown: expected '
                              f'{", ".join(CLIP_KEYS)}')
        if 'arch' not in clip:
            raise ConfigError('clip needs an arch, e.g. dict(arch=\'ViT-B-16\', '
                              "pretrained='openai')")
        if isinstance(slide_crop, int) and slide_crop == 0:   # the whole image, one window
            slide_crop = WHOLE_IMAGE
        super().__init__(slide_crop=slide_crop, slide_stride=slide_stride,
                         pad_multiple=pad_multiple, window_batch_size=window_batch_size,
                         short_side=short_side, logit_scale=logit_scale, prob_thd=prob_thd,
                         pamr=pamr, tile_rows=tile_rows, keep_probs=keep_probs,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(synonym_separator, str) or not synonym_separator.strip():
            raise ConfigError(f'synonym_separator {synonym_separator!r}: expected a '
                              "non-blank string such as ';' or ','")
        self.synonym_separator = synonym_separator
        if area_thd is not None and not 0 <= float(area_thd) < 1:
            raise ConfigError(f'area_thd {area_thd}: expected None or a fraction in [0, 1)')
        self.area_thd = None if area_thd is None else float(area_thd)
        self.clip_arch, self.clip_pretrained = clip['arch'], clip.get('pretrained')
        mean, std = clip_statistics(self.clip_arch, self.clip_pretrained, clip.get('mean'),
                                    clip.get('std'))
        self.register_buffer('clip_mean', mean, persistent=False)
        self.register_buffer('clip_std', std, persistent=False)
        if is_resnet(get_clip_config(self.clip_arch)):
            raise ConfigError(f'{self.method_name()} needs a CLIP ViT, got '
                              f'{self.clip_arch!r}')
        self.visual = build_visual_tower(self.clip_arch, self.clip_pretrained,
                                         clip.get('quick_gelu'))
        check_dense_clip_tower(self.visual, self.clip_arch, self.method_name())
        self.visual.requires_grad_(False)
        self.text_encoder = FrozenCLIPTextEncoder(
            arch=self.clip_arch, pretrained=self.clip_pretrained,
            quick_gelu=clip.get('quick_gelu'), class_names=self._vocabulary(class_names),
            templates=templates, synonyms='none')
        self.precision, self.cpu_precision = precision, cpu_precision
        self._bf16_towers: tuple | None = None
        self.pos_interp = grid_interpolation(pos_interp)

    @classmethod
    def method_name(cls) -> str:
        """The method's name in messages: the class name without ``Segmentor``."""
        name = cls.__name__
        return name[:-len('Segmentor')] if name.endswith('Segmentor') and \
            name != 'Segmentor' else name

    # ------------------------------------------------------------------- vocabulary
    @property
    def class_names(self) -> list[str]:
        return self.text_encoder.class_names

    def set_class_names(self, class_names: str | Sequence[str]) -> None:
        """Segment other words (the text cache is dropped only if they changed)."""
        self.text_encoder.set_class_names(self._vocabulary(class_names))

    def _vocabulary(self, class_names: str | Sequence[str]) -> str | Sequence[str]:
        """``class_names`` with a vocabulary file (``*.txt``) read with
        :attr:`synonym_separator` between synonyms (official files of SCLIP and the methods
        after it separate them by ``', '``; langseg's and ProxyCLIP's by ``';'``): the
        list of names, synonyms joined by ``'; '``; anything else as given."""
        sep = self.synonym_separator
        if sep == ';' or not (isinstance(class_names, str) and class_names.endswith('.txt')):
            return class_names
        return ['; '.join(w.strip() for w in name.split(sep) if w.strip())
                for name in read_vocabulary(class_names)]

    def encode_vocabulary(self) -> None:
        self._ensure_weights()
        self.text_encoder()  # cached: encoded once per vocabulary

    def query_to_class(self) -> torch.Tensor:
        self.text_encoder()  # makes sure the mapping belongs to these words
        return self.text_encoder.query_to_class

    # ---------------------------------------------------------------------- weights
    def extra_towers(self) -> tuple[nn.Module | None, ...]:
        """The image towers besides CLIP's (a VFM), in a fixed order (``None`` for one
        the configuration does not use); none by default."""
        return ()

    def _ensure_weights(self) -> None:
        """Training-free: the pretrained towers are loaded at first use when neither
        ``init_weights`` (the runner, ``OpenVocabularySegmenter``) nor a checkpoint
        (``load_state_dict``) gave them, so ``mmseg.apis.init_model(config)`` without a
        checkpoint segments with the pretrained weights, not random ones."""
        if not self._is_init and self._names_pretrained_weights():
            self.init_weights()

    def _names_pretrained_weights(self) -> bool:
        """Whether the config names weights to load (random test towers name none: they
        keep the weights they were built with): ``clip.pretrained``, or any submodule's
        ``pretrained`` / ``checkpoint`` (a VFM, SAM's decoder, a mask generator's
        towers)."""
        return bool(self.clip_pretrained) or any(
            getattr(module, 'pretrained', None) or getattr(module, 'checkpoint', None)
            for module in self.modules() if module is not self)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._is_init = True   # the weights come from a checkpoint
        self._bf16_towers = None   # copies of the old weights

    def init_weights(self) -> None:
        if self._is_init:   # already loaded (at first use, or from a checkpoint)
            return
        self._bf16_towers = None   # copies of the old weights
        super().init_weights()
        if self.clip_pretrained:
            load_pretrained_tower(self.visual, self.clip_arch, self.clip_pretrained, 'visual',
                                  'the CLIP image encoder')

    # -------------------------------------------------------------------- the input
    def window_pad_value(self) -> torch.Tensor:
        """CLIP's mean colour: zero after CLIP's normalisation, as the official codes pad
        their normalised windows."""
        return self.clip_mean.flatten()

    def clip_normalise(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB pixels (..., 3, H, W) in [0, 255] -> the CLIP tower's input."""
        return (rgb - self.clip_mean.to(rgb).view(3, 1, 1)) / \
            self.clip_std.to(rgb).view(3, 1, 1)

    def pamr_guide(self, image: torch.Tensor) -> torch.Tensor:
        """PAMR is guided by CLIP's normalised view of the image (PAMR's affinities are
        invariant to a per-channel scale and shift up to rounding; this view keeps the
        numbers of the PAMR configs, whose guide was the preprocessor's normalised
        image)."""
        return self.clip_normalise(image)

    # ------------------------------------------------------------------- precision
    def _towers(self, device: torch.device) -> tuple[nn.Module | None, ...]:
        """The image towers to run, ``(visual, *extra_towers())``: the fp32 ones, or (bf16
        on a CPU) bf16 copies of them made once and kept until the weights are loaded
        again (``init_weights``, ``load_state_dict``) or moved (autocast would cast every
        weight at every window, a fifth of a window's time). The towers are frozen:
        weights edited in place are not noticed."""
        towers = (self.visual, *self.extra_towers())
        if device.type != 'cpu' or resolve_precision(self.cpu_precision, device) != 'bf16':
            return towers
        params = [p for tower in towers if tower is not None for p in tower.parameters()]
        key = tuple(p.data_ptr() for p in params)
        if self._bf16_towers is None or self._bf16_towers[0] != key:
            copies = tuple(copy.deepcopy(t).to(torch.bfloat16) if t is not None else None
                           for t in towers)
            self._bf16_towers = (key, *copies)
        return self._bf16_towers[1:]

    def _autocast(self, device: torch.device):
        if device.type == 'cpu':   # bf16 on a CPU runs bf16 copies of the towers instead
            return autocast_for('fp32', device)
        return autocast_for(self.precision, device)

    # -------------------------------------------------------------- dense features
    def embed_tokens(self, visual: nn.Module, rgb: torch.Tensor
                     ) -> tuple[torch.Tensor, tuple[int, int]]:
        """RGB windows (B, 3, H, W) in [0, 255] -> the first block's input tokens
        (B, 1 + h*w, C) (CLIP's normalisation in the tower's precision, patch and
        positional embedding) and the patch grid ``(h, w)``."""
        x = self.clip_normalise(rgb).to(visual.conv1.weight.dtype)
        return embed_vit_tokens(visual, x, self.pos_interp)

    def encode_tokens(self, visual: nn.Module, rgb: torch.Tensor
                      ) -> tuple[torch.Tensor, tuple[int, int]]:
        """RGB windows (B, 3, H, W) in [0, 255] -> the input tokens of the last block
        (B, 1 + h*w, C) (:meth:`embed_tokens`, then the blocks but the last, unchanged)
        and the patch grid ``(h, w)``."""
        tokens, grid = self.embed_tokens(visual, rgb)
        for block in visual.transformer.resblocks[:-1]:
            tokens = residual_block_forward(block, tokens)
        return tokens, grid

    def last_block(self, block: nn.Module, tokens: torch.Tensor, grid: tuple[int, int],
                   rgb: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """The method's hook: the last block's input tokens (B, 1 + h*w, C) (class token
        first) -> its dense output tokens (B, n, C) for ``ln_post`` (the attention's
        ``out_proj`` applied: :meth:`out_proj`) and their grid (``n = h' * w'``, the
        patch grid ``grid`` unless the method resamples it). ``block`` is the tower's
        last block (a bf16 copy on the bf16 CPU path); ``rgb`` the windows, for methods
        with another tower."""
        raise NotImplementedError(f'{type(self).__name__} implements last_block or '
                                  'dense_features')

    def out_proj(self, values: torch.Tensor) -> torch.Tensor:
        """The last attention's output projection, in the fp32 tower's precision (a few
        matrix products per token: fp32 even on the bf16 CPU path)."""
        head = self.visual
        values = values.to(head.conv1.weight.dtype)
        return head.transformer.resblocks[-1].attn.out_proj(values)

    def head(self, tokens: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Dense output tokens (B, h*w, C) -> l2-normalised CLIP embeddings (B, E, h, w):
        ``ln_post``, ``proj``, normalisation, in the fp32 tower's precision."""
        head = self.visual
        out = head.ln_post(tokens.to(head.conv1.weight.dtype))
        if head.proj is not None:
            out = out @ head.proj
        out = F.normalize(out.float(), dim=-1)
        return out.transpose(1, 2).reshape(out.shape[0], -1, *size)

    def post_attention_head(self, values: torch.Tensor, size: tuple[int, int]
                            ) -> torch.Tensor:
        """The last attention's output (B, h*w, C) before ``out_proj`` -> l2-normalised
        embeddings (B, E, h, w), with no residual and no MLP: ``out_proj``, ``ln_post``,
        ``proj``, normalisation (MaskCLIP's and ProxyCLIP's head)."""
        return self.head(self.out_proj(values), size)

    def dense_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB windows (B, 3, H, W) in [0, 255] -> l2-normalised CLIP embeddings
        (B, E, h, w): the blocks but the last, the method's :meth:`last_block`, the
        head."""
        towers = self._towers(rgb.device)
        visual = towers[0]
        tokens, grid = self.encode_tokens(visual, rgb)
        dense, size = self.last_block(visual.transformer.resblocks[-1], tokens, grid, rgb)
        return self.head(dense, size)

    # -------------------------------------------------------------- post-processing
    def postprocess(self, logits: torch.Tensor, size: Sequence[int],
                    image: torch.Tensor | None = None,
                    options: InferenceOptions | None = None
                    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The shared post-processing, then (``area_thd`` set) SCLIP's small-region filter
        on the whole image's probabilities before the argmax and ``prob_thd``."""
        if self.area_thd is None:
            return super().postprocess(logits, size, image, options)
        opts = self.options if options is None else options
        probs, _ = super().postprocess(logits, size, image,
                                       opts.replace(prob_thd=0.0, keep_probs=True))
        probs = area_filter(probs, self.area_thd)
        best, labels = probs.max(dim=0)
        if opts.prob_thd > 0:
            labels[best < opts.prob_thd] = 0
        return (probs if opts.keep_probs else None), labels

    # ---------------------------------------------------------------- window scores
    def text_logits(self, feats: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Dense embeddings (B, E, h, w) and normalised text queries (Q, E) -> scores
        (B, Q, h, w): the cosines."""
        return torch.einsum('behw,qe->bqhw', feats, text)

    def window_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Cosine logits (B, Q, H, W) of windows ``x`` (padded to ``pad_multiple``),
        upsampled (bilinear) to the window size."""
        with self._autocast(x.device):
            feats = self.dense_features(x)                           # B, E, h, w
        text = F.normalize(self.text_encoder().float(), dim=-1)      # Q, E
        logits = self.text_logits(feats, text)
        return F.interpolate(logits, size=x.shape[-2:], mode='bilinear', align_corners=False)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.dense_features(inputs)
