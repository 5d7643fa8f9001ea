"""One inference entry point: an image and class words -> label map and probabilities.

    seg = OpenVocabularySegmenter('configs/proxyclip/proxyclip_vit-b16-dino-b8_voc21.py')
    result = seg(image_rgb, 'cat; kitten, dog, sky')
    result.labels      # (H, W) int64, index into result.class_names
    result.probs       # (K, H, W) float32, per-class probability (max over synonyms)
    seg(image_rgb, 'cat, dog', prob_thd=0.5, pamr=True)        # settings of one call
    seg(image_rgb, 'cat, dog', options=seg.model.options.replace(tile_rows=128))

The settings of a call (probability threshold, PAMR, band height, whether probabilities
are kept) are an :class:`~langseg.models.segmentors.open_vocab.InferenceOptions` passed to
the model's ``predict``: the model itself is never changed by them.

Explicit pre- and post-processing (segment-anything style): the image is resized as the
config's test pipeline does (short side), normalised by the model's data preprocessor, and
the prediction comes back at the original size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..models.segmentors.open_vocab import InferenceOptions, OpenVocabSegmentor
from ..utils.errors import ConfigError, DataError
from .image_io import DEFAULT_MAX_ASPECT, check_image_size, read_image  # noqa: F401


@dataclass
class SegmentationResult:
    labels: np.ndarray
    probs: np.ndarray | None
    class_names: list[str]


def parse_class_words(words: str | Sequence[str]) -> list[str]:
    """``"cat; kitten, dog, sky"`` -> ``['cat; kitten', 'dog', 'sky']`` (classes separated by
    commas or new lines, synonyms of a class by ``;``)."""
    if isinstance(words, str):
        words = [w for line in words.splitlines() for w in line.split(',')]
    classes = []
    for item in words:
        synonyms = [s.strip() for s in str(item).split(';') if s.strip()]
        if synonyms:
            classes.append('; '.join(synonyms))
    if not classes:
        raise DataError('no class words given: expected words separated by commas, '
                        'synonyms by ";" (e.g. "cat; kitten, dog, sky")')
    return classes


def _short_side(cfg) -> int | None:
    pipeline = cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline', [])
    for step in pipeline:
        if step.get('type') == 'Resize' and step.get('keep_ratio'):
            return int(min(step['scale']))
    return None


class OpenVocabularySegmenter:
    """A training-free open-vocabulary segmentor built from a config.

    Args:
        config: config path or ``mmengine.Config`` (a ``ProxyCLIPSegmentor`` model).
        device: ``'cpu'``, ``'cuda'`` or ``None`` (CUDA when available).
        cfg_options: overrides, as ``--cfg-options`` gives them.
        short_side: resize the image's short side to this first (default: the config's
            test pipeline; ``0`` keeps the size).
        max_side: refuse images whose longer side exceeds this, before and after the
            short side is resized (a thin image scaled up would be huge).
        max_aspect: refuse images whose longer side is more than this times the shorter.
    """

    def __init__(self, config, device: str | None = None, cfg_options: dict | None = None,
                 short_side: int | None = None, max_side: int = 8192,
                 max_aspect: float = DEFAULT_MAX_ASPECT) -> None:
        from mmengine.config import Config
        from mmengine.registry import init_default_scope

        import langseg  # noqa: F401  (registers the modules)
        from ..engine.checkpoint import install_safe_checkpoint_loader
        from ..engine.config import load_config
        from ..registry import MODELS
        # Weights named by the config (init_cfg / pretrained) may load through mmengine.
        install_safe_checkpoint_loader()
        cfg = config if isinstance(config, Config) else load_config(config, cfg_options)
        if cfg_options and isinstance(config, Config):
            cfg.merge_from_dict(cfg_options)
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        model_class = MODELS.get(cfg.model.type)
        if not (isinstance(model_class, type) and issubclass(model_class, OpenVocabSegmentor)):
            raise ConfigError(f'{cfg.model.type} cannot take new class words: expected an '
                              'open-vocabulary config such as configs/proxyclip/*.py')
        self.device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        self.model = MODELS.build(cfg.model)
        self.model.init_weights()
        self.model.to(self.device).eval()
        self.short_side = _short_side(cfg) if short_side is None else (short_side or None)
        self.max_side = max_side
        self.max_aspect = max_aspect
        self.cfg = cfg

    def preprocess(self, image: np.ndarray) -> dict:
        """RGB uint8 (H, W, 3) -> the model's batch (resized, normalised) + metadata."""
        import cv2
        from mmseg.structures import SegDataSample
        if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3):
            raise DataError('the image must be an RGB array of shape (H, W, 3)')
        h, w = image.shape[:2]
        check_image_size(w, h, 'the image', self.max_side, None, self.max_aspect)
        resized = image
        if self.short_side:
            scale = self.short_side / min(h, w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            if max(size) > self.max_side:
                raise DataError(f'the image is {w}x{h}: resized to a short side of '
                                f'{self.short_side} it would be {size[0]}x{size[1]}, over the '
                                f'limit of {self.max_side} on the longer side')
            resized = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        bgr = torch.from_numpy(np.ascontiguousarray(resized[..., ::-1])).permute(2, 0, 1)
        sample = SegDataSample(metainfo=dict(img_shape=resized.shape[:2], ori_shape=(h, w)))
        return self.model.data_preprocessor(dict(inputs=[bgr], data_samples=[sample]),
                                            training=False)

    def options_for(self, options: InferenceOptions | None = None,
                    prob_thd: float | None = None, pamr: dict | bool | None = None,
                    keep_probs: bool | None = None, tile_rows: int | None = None
                    ) -> InferenceOptions:
        """The options of one call: ``options`` (default: the config's, with
        ``keep_probs=True``) with the keywords that are not ``None`` replaced."""
        base = options if options is not None else \
            self.model.options.replace(keep_probs=True)
        changes = dict(prob_thd=prob_thd, pamr=pamr, keep_probs=keep_probs,
                       tile_rows=tile_rows)
        return base.replace(**{k: v for k, v in changes.items() if v is not None})

    @torch.no_grad()
    def __call__(self, image: np.ndarray | str, words: str | Sequence[str],
                 prob_thd: float | None = None, pamr: dict | bool | None = None,
                 keep_probs: bool | None = None, *, tile_rows: int | None = None,
                 options: InferenceOptions | None = None) -> SegmentationResult:
        """Segment ``image`` (RGB array or path) into the classes named by ``words``.

        The settings of this call are ``options`` (default: the config's, probabilities
        kept) with the keywords given replaced: ``prob_thd`` (a pixel whose best
        probability is below it becomes class 0), ``pamr`` (``dict(num_iter, dilations)``,
        ``True`` for NACLIP's setting, ``False`` for none), ``tile_rows`` and
        ``keep_probs`` (``False``: no probabilities, ``probs`` is ``None``; the
        post-processing then holds only bands of the full-size scores, the path for very
        large images). They are passed to the model's ``predict``; the model's attributes
        are not touched (the vocabulary is the model's: it is set to ``words``)."""
        if isinstance(image, str):
            image = read_image(image, self.max_side, None, self.max_aspect)
        classes = parse_class_words(words)
        opts = self.options_for(options, prob_thd, pamr, keep_probs, tile_rows)
        model = self.model
        model.set_class_names(classes)
        batch = self.preprocess(image)
        batch['inputs'] = batch['inputs'].to(self.device)
        sample = model.predict(batch['inputs'], batch['data_samples'], options=opts)[0]
        probs = sample.seg_logits.data.float().cpu().numpy() if 'seg_logits' in sample \
            else None
        return SegmentationResult(labels=sample.pred_sem_seg.data[0].cpu().numpy(),
                                  probs=probs, class_names=list(model.class_names))
