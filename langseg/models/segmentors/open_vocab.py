"""The one open-vocabulary inference path, shared by ProxyCLIP and SegCLIP.

A method says only what differs, its window scores: :meth:`OpenVocabSegmentor.window_logits`
(windows ``(B, 3, h, w)`` -> scores ``(B, Q, h, w)`` at the window size, one row per text
query). Everything around it lives here, explicit pre- and post-processing
(segment-anything's style):

1. **pre**: each image's valid region (``img_shape``; padding never enters), optionally
   resized to ``short_side`` (bilinear);
2. **windows** (:class:`SlidingWindows`): mmseg's sliding-window rule
   ``n = max(size - crop + stride - 1, 0) // stride + 1`` per axis with the last window
   shifted back inside; each window padded symmetrically to a multiple of
   ``pad_multiple`` (ProxyCLIP's 56; 0: none) with the method's
   :meth:`~OpenVocabSegmentor.window_pad_value` (zeros unless it says otherwise;
   ProxyCLIP: CLIP's mean colour) and the padding cut from its scores; the
   windows of *all* images of the batch grouped by shape and scored ``window_batch_size``
   at a time; per image the scores are summed and divided by the count map;
3. **post** (:meth:`OpenVocabSegmentor.postprocess`): bilinear resize to ``ori_shape``;
   optionally PAMR (``pamr=dict(num_iter=10, dilations=(8, 16))``, NACLIP's setting,
   ``langseg.models.layers.pamr``) with the image resized to ``ori_shape``;
   ``softmax(logit_scale * s)`` over the queries when ``logit_scale`` is set (ProxyCLIP's
   40; SegCLIP: none, its scores already are probabilities); each class takes the max over
   its synonym rows (``query_to_class``); argmax; pixels whose best probability is below
   ``prob_thd`` become class 0 (the background). Without PAMR the resize and everything
   after it run on bands of ``tile_rows`` output rows (bilinear by ``grid_sample``, equal
   to the whole resize), so a 4000 x 3000 image never holds its Q x H x W logits at once;
   ``keep_probs=False`` also skips the K x H x W probabilities (only the labels are kept).
   These four settings are an :class:`InferenceOptions` (a frozen dataclass): the config's
   are the model's :attr:`~OpenVocabSegmentor.options`, and ``predict(inputs,
   data_samples, options=...)`` takes others for one call without changing the model.

``tensor`` mode (:meth:`_forward`, what ``tools/get_flops.py`` traces) is the real graph of
one window: the whole input padded to ``pad_multiple``, the method's window scores
(dense features and the text classifier), the padding cut.

**dataset_meta** (:attr:`OpenVocabSegmentor.dataset_meta`): what mmseg's
``MMSegInferencer``, ``inference_model``/``show_result_pyplot`` and visualizers read to label
an overlay: ``classes``, one name a class (the first synonym of each vocabulary entry:
``"cat; kitten"`` is shown as ``cat``), and ``palette`` (langseg's fixed palette,
``langseg.apis.palette``). It is derived from the vocabulary, so it always names what the
model segments; assigning it (mmseg's ``init_model`` / ``MMSegInferencer`` assign the
checkpoint's meta, or Cityscapes' names when there is none) keeps the vocabulary (a warning
says so when the names differ; :meth:`set_class_names` changes it) and takes the palette if
it has one colour a class. :class:`~langseg.engine.hooks.DatasetMetaHook` writes it into
the checkpoints' meta.
"""
from __future__ import annotations

import logging
from abc import abstractmethod
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor

from ...utils.errors import ConfigError, LangsegError
from ..layers.pamr import PAMR_DEFAULT, pamr


def _pamr_settings(pamr: dict | bool | None) -> dict | None:
    """``None``/``False`` (none), ``True`` (:data:`PAMR_DEFAULT`) or ``dict(num_iter,
    dilations)`` (missing keys from :data:`PAMR_DEFAULT`) -> a checked dict or ``None``."""
    if pamr is None or pamr is False:
        return None
    if pamr is True:   # NACLIP's setting (models/layers/pamr.py)
        pamr = dict(PAMR_DEFAULT)
    if not isinstance(pamr, dict):
        raise ConfigError(f'pamr {pamr!r}: expected None, True or dict(num_iter, dilations)')
    unknown = set(pamr) - {'num_iter', 'dilations'}
    if unknown:
        raise ConfigError(f'pamr settings {sorted(unknown)} are unknown: expected '
                          'num_iter, dilations')
    return dict(num_iter=int(pamr.get('num_iter', PAMR_DEFAULT['num_iter'])),
                dilations=tuple(int(d) for d in pamr.get('dilations',
                                                         PAMR_DEFAULT['dilations'])))


@dataclass(frozen=True)
class InferenceOptions:
    """The post-processing settings of one prediction, an argument of
    :meth:`OpenVocabSegmentor.predict` (never written into the model: one model serves
    calls with different options, from several threads). A model's own
    (:attr:`OpenVocabSegmentor.options`) come from its config; :meth:`replace` gives a
    copy with some changed (``model.options.replace(prob_thd=0.5)``).

    Args:
        prob_thd: pixels whose best class probability is below it become class 0.
        pamr: PAMR refinement: ``None``/``False`` (none), ``True`` (:data:`PAMR_DEFAULT`)
            or ``dict(num_iter=..., dilations=...)``; stored as a checked dict or ``None``.
        tile_rows: output rows per band of the post-processing (a memory bound; at
            least 1).
        keep_probs: keep the class probabilities as ``seg_logits`` (else only labels).
    """

    prob_thd: float = 0.0
    pamr: dict | None = field(default=None, hash=False)
    tile_rows: int = 512
    keep_probs: bool = True

    def __post_init__(self) -> None:
        set_ = object.__setattr__   # frozen: the checked values are set once, here
        set_(self, 'prob_thd', float(self.prob_thd))
        set_(self, 'pamr', _pamr_settings(self.pamr))
        set_(self, 'tile_rows', max(1, int(self.tile_rows)))
        set_(self, 'keep_probs', bool(self.keep_probs))

    def replace(self, **changes: Any) -> 'InferenceOptions':
        """A copy with ``changes`` (checked as in the constructor); the fields left out
        keep their values."""
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ConfigError(f'unknown inference options {sorted(unknown)}: expected '
                              f'{", ".join(sorted(names))}')
        return replace(self, **changes)


def window_starts(size: int, crop: int, stride: int) -> list[int]:
    """Start offsets of mmseg's sliding-window rule along one axis: ``n = max(size - crop
    + stride - 1, 0) // stride + 1`` windows, the last shifted back inside."""
    n = max(size - crop + stride - 1, 0) // stride + 1
    return [max(min(i * stride + crop, size) - crop, 0) for i in range(n)]


def symmetric_padding(h: int, w: int, multiple: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) zero padding up to a multiple of ``multiple``."""
    if multiple <= 1:
        return 0, 0, 0, 0
    ph, pw = (-h) % multiple, (-w) % multiple
    return pw // 2, pw - pw // 2, ph // 2, ph - ph // 2


def pad_windows(x: torch.Tensor, padding: tuple[int, int, int, int],
                value: torch.Tensor | None = None) -> torch.Tensor:
    """``x`` (B, C, h, w) padded by (left, right, top, bottom) with ``value``: ``None``
    (zeros) or one value a channel (a tensor of C elements), written, not added, so the
    image's pixels are copied unchanged."""
    left, right, top, bottom = padding
    if not (left or right or top or bottom):
        return x
    if value is None:
        return F.pad(x, (left, right, top, bottom))
    b, c, h, w = x.shape
    out = value.to(x).reshape(1, c, 1, 1).expand(b, c, h + top + bottom,
                                                 w + left + right).clone()
    out[:, :, top:top + h, left:left + w] = x
    return out


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) \
        else (int(value), int(value))


class SlidingWindows:
    """Batched sliding-window scoring of several images (see the module docstring).

    Args:
        crop, stride: window size and stride (int or (h, w)).
        pad_multiple: zero-pad each window symmetrically to a multiple of this (0: none).
        batch_size: windows per call of the scoring function; ``'auto'``: 16 on CUDA, 3
            on CPU (larger batches measured slower on a CPU, docs/benchmarks.md).
    """

    def __init__(self, crop: int | Sequence[int], stride: int | Sequence[int],
                 pad_multiple: int = 0, batch_size: int | str = 'auto') -> None:
        self.crop, self.stride = _pair(crop), _pair(stride)
        if min(self.crop) < 1 or min(self.stride) < 1:
            raise ConfigError(f'slide_crop {self.crop} and slide_stride {self.stride} must be '
                              'positive')
        if batch_size != 'auto' and int(batch_size) < 1:
            raise ConfigError(f"window_batch_size must be >= 1 or 'auto', got {batch_size}")
        self.pad_multiple = int(pad_multiple)
        self.batch_size = batch_size if batch_size == 'auto' else int(batch_size)

    def boxes(self, h: int, w: int) -> list[tuple[int, int, int, int]]:
        """(y1, y2, x1, x2) of every window of an h x w image."""
        (ch, cw), (sh, sw) = self.crop, self.stride
        return [(y, min(y + ch, h), x, min(x + cw, w))
                for y in window_starts(h, ch, sh) for x in window_starts(w, cw, sw)]

    def __call__(self, images: Sequence[torch.Tensor],
                 score: Callable[[torch.Tensor], torch.Tensor],
                 pad_value: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Window-averaged scores (Q, H_i, W_i) of each image (3, H_i, W_i); windows are
        padded with ``pad_value`` (one value a channel; ``None``: zeros)."""
        jobs: dict[tuple[int, int], list] = {}
        for idx, img in enumerate(images):
            for box in self.boxes(*img.shape[-2:]):
                jobs.setdefault((box[1] - box[0], box[3] - box[2]), []).append((idx, box))
        sums: list[torch.Tensor | None] = [None] * len(images)
        counts = [img.new_zeros(1, *img.shape[-2:]) for img in images]
        batch_size = self.batch_size
        if batch_size == 'auto':
            batch_size = 16 if images[0].device.type == 'cuda' else 3
        for (wh, ww), items in jobs.items():
            left, right, top, bottom = symmetric_padding(wh, ww, self.pad_multiple)
            for start in range(0, len(items), batch_size):
                chunk = items[start:start + batch_size]
                crops = torch.stack([images[i][:, y1:y2, x1:x2]
                                     for i, (y1, y2, x1, x2) in chunk])
                crops = pad_windows(crops, (left, right, top, bottom), pad_value)
                scores = score(crops).float()[:, :, top:top + wh, left:left + ww]
                for (i, (y1, y2, x1, x2)), s in zip(chunk, scores):
                    if sums[i] is None:
                        sums[i] = images[i].new_zeros(s.shape[0], *images[i].shape[-2:])
                    sums[i][:, y1:y2, x1:x2] += s
                    counts[i][:, y1:y2, x1:x2] += 1
        return [s / c for s, c in zip(sums, counts)]


def check_mmseg_build_args(name: str, train_cfg: dict | None, pretrained: str | None,
                           weights_from: str) -> None:
    """``train_cfg`` and ``pretrained``: what mmseg's ``init_model`` passes to every
    segmentor (both ``None``). An open-vocabulary segmentor has no training settings to
    take there and names its weights elsewhere, so anything but ``None`` (or an empty
    ``train_cfg``) is refused in one line."""
    if pretrained is not None:
        raise ConfigError(f'{name} takes no model.pretrained (got {pretrained!r}): its '
                          f'weights are named by {weights_from}; load a checkpoint with '
                          'load_from or the CHECKPOINT argument')
    if train_cfg:
        raise ConfigError(f'{name} takes no model.train_cfg (got {train_cfg!r}): expected '
                          'None (the training settings are arguments of the model)')


def store_prediction(sample: Any, probs: torch.Tensor | None,
                     labels: torch.Tensor) -> None:
    """Put an image's labels (H, W) and class probabilities (K, H, W, or ``None``) into its
    ``SegDataSample``, flipped back first when test-time augmentation flipped the image."""
    if sample.metainfo.get('flip'):  # test-time flip (TTA): back to the image
        dims = {'horizontal': (-1, ), 'vertical': (-2, ), 'diagonal': (-2, -1)}[
            sample.metainfo.get('flip_direction') or 'horizontal']
        labels = labels.flip(dims)
        probs = probs.flip(dims) if probs is not None else None
    sample.set_data(dict(pred_sem_seg=PixelData(data=labels[None])))
    if probs is not None:
        sample.set_data(dict(seg_logits=PixelData(data=probs)))


class OpenVocabSegmentor(BaseSegmentor):
    """Base class of the training-free / zero-shot segmentors (see the module docstring).

    Args:
        slide_crop, slide_stride: sliding windows (int or (h, w)).
        pad_multiple: windows are padded to a multiple of this (0: none), with
            :meth:`window_pad_value`.
        window_batch_size: windows per forward (int or ``'auto'``).
        short_side: resize each image to this short side first (``None``: as given; the
            configs usually resize in the data pipeline).
        logit_scale: ``softmax(logit_scale * s)`` over the queries after the windows are
            merged (``None``: the scores are kept as they are).
        prob_thd: pixels whose best class probability is below it become class 0.
        pamr: PAMR settings (``dict(num_iter=10, dilations=(8, 16))``) or ``None``.
        tile_rows: output rows per band of the post-processing (memory bound).
        keep_probs: store the class probabilities as ``seg_logits`` (else only labels).
            ``prob_thd``, ``pamr``, ``tile_rows`` and ``keep_probs`` form the model's
            :attr:`options` (an :class:`InferenceOptions`, read-only); :meth:`predict`
            takes other ones for one call as its ``options`` argument.
        data_preprocessor, init_cfg: as for mmseg's segmentors.

    Subclasses implement :meth:`window_logits` and the vocabulary (:attr:`class_names`,
    :meth:`set_class_names`, :meth:`query_to_class`, :meth:`encode_vocabulary`).
    """

    #: Whether the model needs no training (tools/test.py runs it without a checkpoint).
    training_free = False

    def __init__(self, slide_crop: int | Sequence[int] = 336,
                 slide_stride: int | Sequence[int] = 112, pad_multiple: int = 0,
                 window_batch_size: int | str = 'auto', short_side: int | None = None,
                 logit_scale: float | None = None, prob_thd: float = 0.0,
                 pamr: dict | None = None, tile_rows: int = 512, keep_probs: bool = True,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self._options = InferenceOptions(prob_thd=prob_thd, pamr=pamr, tile_rows=tile_rows,
                                         keep_probs=keep_probs)
        self.windows = SlidingWindows(slide_crop, slide_stride, pad_multiple,
                                      window_batch_size)
        self.short_side = int(short_side) if short_side else None
        self.logit_scale_post = None if logit_scale is None else float(logit_scale)

    # ------------------------------------------------------------- inference options
    @property
    def options(self) -> InferenceOptions:
        """The config's post-processing settings: what :meth:`predict` uses when it is
        given none (read-only; pass ``options=model.options.replace(...)`` to change them
        for one call)."""
        return self._options

    @property
    def prob_thd(self) -> float:
        """The config's probability threshold (``options.prob_thd``)."""
        return self._options.prob_thd

    @property
    def pamr(self) -> dict | None:
        """The config's PAMR settings (a copy of ``options.pamr``)."""
        pamr = self._options.pamr
        return None if pamr is None else dict(pamr)

    @property
    def tile_rows(self) -> int:
        """The config's band height (``options.tile_rows``)."""
        return self._options.tile_rows

    @property
    def keep_probs(self) -> bool:
        """Whether the config keeps the probabilities (``options.keep_probs``)."""
        return self._options.keep_probs

    # ------------------------------------------------------------ method interface
    @abstractmethod
    def window_logits(self, windows: torch.Tensor) -> torch.Tensor:
        """Scores (B, Q, h, w) of windows (B, 3, h, w), at the window size."""

    @property
    @abstractmethod
    def class_names(self) -> list[str]:
        """The class names (synonyms joined) the prediction's channels stand for."""

    @abstractmethod
    def set_class_names(self, class_names: str | Sequence[str]) -> None:
        """Replace the vocabulary (the text side is re-encoded on next use)."""

    def query_to_class(self) -> torch.Tensor | None:
        """The class of each query row, or ``None`` when rows are classes."""
        return None

    def encode_vocabulary(self) -> None:
        """Compute (or fetch the cached) text side once, before the windows."""

    def pamr_guide(self, image: torch.Tensor) -> torch.Tensor:
        """The image (3, H, W) PAMR's affinities are computed on: the model's input as
        it is (a method whose towers normalise their input may give a normalised view)."""
        return image

    def window_pad_value(self) -> torch.Tensor | None:
        """The colour windows are padded with (one value a channel of the input), or
        ``None`` for zeros."""
        return None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def out_channels(self) -> int:
        """Channels of ``seg_logits`` (one a class), as mmseg's decode heads say it
        (``SegTTAModel`` reads it)."""
        return self.num_classes

    @property
    def display_names(self) -> list[str]:
        """One name a class: the first synonym of each vocabulary entry."""
        from ..clip.prompts import split_synonyms
        return [split_synonyms(name)[0] for name in self.class_names]

    @property
    def dataset_meta(self) -> dict:
        """``dict(classes=..., palette=...)`` of the vocabulary (see the module docstring)."""
        classes = tuple(self.display_names)
        palette = self.__dict__.get('_meta_palette')
        if palette is None or len(palette) != len(classes):
            from ...utils.palette import palette as make_palette
            palette = [[int(c) for c in rgb] for rgb in make_palette(len(classes))]
        return dict(classes=classes, palette=[list(rgb) for rgb in palette])

    @dataset_meta.setter
    def dataset_meta(self, meta: dict | None) -> None:
        meta = dict(meta or {})
        classes, palette = meta.get('classes'), meta.get('palette')
        mine = self.display_names
        if classes is not None and list(classes) != mine:
            from mmengine.logging import print_log
            given = ', '.join(map(str, classes[:3]))
            print_log(f'dataset_meta names {len(classes)} classes ({given}'
                      f'{", ..." if len(classes) > 3 else ""}); {type(self).__name__} keeps '
                      f'its own vocabulary of {len(mine)} classes ({", ".join(mine[:3])}'
                      f'{", ..." if len(mine) > 3 else ""}): use set_class_names to change it',
                      logger='current', level=logging.WARNING)
            return
        if palette is not None and len(palette) == len(mine):
            self.__dict__['_meta_palette'] = [[int(c) for c in rgb] for rgb in palette]

    # ------------------------------------------------------------- shared pipeline
    def _resized(self, image: torch.Tensor) -> torch.Tensor:
        size = image.shape[-2:]
        if not self.short_side or min(size) == self.short_side:
            return image
        factor = self.short_side / min(size)
        new = [max(1, round(s * factor)) for s in size]
        return F.interpolate(image[None], size=new, mode='bilinear', align_corners=False)[0]

    @torch.no_grad()
    def image_logits(self, images: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Window-averaged scores (Q, H_i, W_i) of each image (3, H_i, W_i), at its size
        (the short-side resize undone)."""
        self.encode_vocabulary()
        resized = [self._resized(img) for img in images]
        out = self.windows(resized, self.window_logits, self.window_pad_value())
        return [o if o.shape[-2:] == img.shape[-2:] else
                F.interpolate(o[None], size=img.shape[-2:], mode='bilinear',
                              align_corners=False)[0] for o, img in zip(out, images)]

    def _classify(self, logits: torch.Tensor, prob_thd: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores (Q, h, w) at the output size -> class scores (K, h, w), labels (h, w)
        (pixels whose best probability is below ``prob_thd``: class 0)."""
        probs = logits if self.logit_scale_post is None else \
            torch.softmax(logits * self.logit_scale_post, dim=0)
        owner = self.query_to_class()
        if owner is not None and probs.shape[0] != self.num_classes:
            merged = probs.new_full((self.num_classes, *probs.shape[1:]), -float('inf'))
            index = owner.to(probs.device)[:, None, None].expand_as(probs)
            probs = merged.scatter_reduce(0, index, probs, reduce='amax', include_self=True)
        best, labels = probs.max(dim=0)
        if prob_thd > 0:
            labels[best < prob_thd] = 0
        return probs, labels

    def postprocess(self, logits: torch.Tensor, size: Sequence[int],
                    image: torch.Tensor | None = None,
                    options: InferenceOptions | None = None
                    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Merged scores (Q, h, w) -> class scores (K, H, W) at ``size`` (``None`` with
        ``keep_probs=False``) and the labels (H, W): resize, PAMR guided by ``image`` (the
        model's input, any size, as :meth:`pamr_guide` gives it), scaled softmax, synonym
        max, argmax, threshold.
        ``options``: the settings of this call (``None``: :attr:`options`)."""
        opts = self._options if options is None else options
        size = tuple(int(s) for s in size)
        if opts.pamr is not None and image is not None:
            full = F.interpolate(logits[None], size=size, mode='bilinear',
                                 align_corners=False)
            guide = F.interpolate(self.pamr_guide(image)[None].float(), size=size,
                                  mode='bilinear', align_corners=False)
            probs, labels = self._classify(pamr(guide, full, **opts.pamr)[0], opts.prob_thd)
            return (probs if opts.keep_probs else None), labels
        h, w = size
        labels = torch.empty(h, w, dtype=torch.long, device=logits.device)
        probs = None
        xs = (torch.arange(w, device=logits.device, dtype=torch.float32) + 0.5) / w * 2 - 1
        for top in range(0, h, opts.tile_rows):
            rows = torch.arange(top, min(top + opts.tile_rows, h), device=logits.device,
                                dtype=torch.float32)
            ys = (rows + 0.5) / h * 2 - 1
            grid = torch.stack(torch.meshgrid(ys, xs, indexing='ij')[::-1], dim=-1)
            band = F.grid_sample(logits[None].float(), grid[None], mode='bilinear',
                                 padding_mode='border', align_corners=False)[0]
            band_probs, band_labels = self._classify(band, opts.prob_thd)
            labels[top:top + len(rows)] = band_labels
            if opts.keep_probs:
                if probs is None:
                    probs = band_probs.new_empty(band_probs.shape[0], h, w)
                probs[:, top:top + len(rows)] = band_probs
        return probs, labels

    def predict(self, inputs: torch.Tensor, data_samples: list | None = None,
                options: InferenceOptions | None = None) -> list:
        """Segment a (padded) batch: every image's valid region is windowed on its own,
        the windows of all images batched together. ``options``: the post-processing
        settings of this call (``None``: the config's, :attr:`options`); the model is not
        changed by them."""
        from mmseg.structures import SegDataSample
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(img_shape=inputs.shape[-2:],
                                                         ori_shape=inputs.shape[-2:]))
                            for _ in range(inputs.shape[0])]
        images = []
        for img, sample in zip(inputs, data_samples):
            h, w = sample.metainfo.get('img_shape', img.shape[-2:])[:2]
            images.append(img[:, :h, :w])
        for logits, image, sample in zip(self.image_logits(images), images, data_samples):
            size = sample.metainfo.get('ori_shape', logits.shape[-2:])[:2]
            probs, labels = self.postprocess(logits, size, image, options)
            store_prediction(sample, probs, labels)
        return data_samples

    def _forward(self, inputs: torch.Tensor, data_samples: list | None = None
                 ) -> torch.Tensor:
        """The real graph of one window (what the FLOPs tool traces): the input padded to
        ``pad_multiple``, the method's window scores, the padding cut."""
        self.encode_vocabulary()
        h, w = inputs.shape[-2:]
        left, right, top, bottom = symmetric_padding(h, w, self.windows.pad_multiple)
        logits = self.window_logits(pad_windows(inputs, (left, right, top, bottom),
                                                self.window_pad_value()))
        return logits[:, :, top:top + h, left:left + w]

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: list) -> torch.Tensor:
        return self._forward(inputs)

    def extract_feat(self, inputs: torch.Tensor):
        """mmseg's abstract hook: an open-vocabulary segmentor scores windows against text
        and has no feature pyramid to return."""
        raise LangsegError(f'{type(self).__name__} has no feature pyramid (extract_feat): '
                           'it scores sliding windows against the class text; use '
                           "window_logits(windows) or forward(..., mode='tensor')")

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        raise LangsegError(f'{type(self).__name__} is training-free: evaluate it with '
                           'tools/test.py CONFIG (no checkpoint), or use tools/demo.py / '
                           'tools/webdemo.py')
