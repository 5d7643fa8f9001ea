"""GLA-CLIP: ProxyCLIP whose windows attend to each other (Lee, Seong, Hyun, Park, Moon and
Heo, "Looking Beyond the Window: Global-Local Aligned CLIP for Training-free
Open-Vocabulary Semantic Segmentation", CVPR 2026, arXiv:2603.23030).

The towers are ProxyCLIP's (a CLIP ViT whose last block keeps only its value path, a VFM
whose tokens give the attention; Lan et al., ECCV 2024, arXiv:2408.04883, Sec. 3.2); the
attention is GLA-CLIP's (``langseg.methods.glaclip.attention``): the key-value tokens of
every window of the image, proxy anchors, dynamic normalisation. So the windows of one
image are scored together: :meth:`GLACLIPSegmentor.image_logits` (the hook of the shared
open-vocabulary path, ``langseg.models.segmentors.open_vocab``) runs the towers window
batch by window batch, then the attention over all of the image's windows at once, then
the head, and merges the window scores as the shared path does (sum / count); resize,
``softmax(40 s)``, synonym max, ``prob_thd`` are the shared post-processing.
:meth:`GLACLIPSegmentor.window_logits` scores each window as an image of its own (one
window: the attention over that window only, with the dynamic beta of one window).

The official code (github.com/2btlFe/GLA-CLIP at ba74915, run
as its predict.sh runs it) decides every step; docs/methods/glaclip.md lists each setting with its
file and line and the test that pins it. Beyond the official code: images of any size and
windows of any shape (the official code needs square, full-size windows), a batch of
images (each image its own attention), the attention computed in row chunks (memory
bounded), fp32 on a CPU and autocast on CUDA (the official code runs fp16).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

from ...models.layers import block_value_path, resize_value_grid
from ...models.segmentors.clip_dense import CLIPDenseSegmentor
from ...models.segmentors.open_vocab import pad_windows, symmetric_padding
from ...registry import MODELS
from ...utils.errors import ConfigError
from .attention import global_proxy_attention


@MODELS.register_module()
class GLACLIPSegmentor(CLIPDenseSegmentor):
    """CLIP + VFM with GLA-CLIP's global attention (see the module docstring).

    Args:
        class_names, clip, templates, logit_scale, prob_thd, slide_crop, slide_stride,
            pad_multiple, window_batch_size, short_side, precision, cpu_precision,
            pos_interp, pamr, tile_rows, keep_probs, data_preprocessor: as for
            :class:`~langseg.models.segmentors.clip_dense.CLIPDenseSegmentor`
            (the official values: windows 224 / stride 112 padded to multiples of 56,
            ``logit_scale`` 40).
        vfm: the VFM config (``dict(type='TimmVFM', name='dino-b8')``, the official one).
        proxy_threshold: the proxy anchors' similarity threshold (0.6).
        proxy_iters: proxy-anchor iterations (2).
        beta_alpha, gamma_alpha: the dynamic normalisation's alphas (0.3, 30); ``None``
            turns that one off (the static ``beta`` / ``gamma`` then).
        beta, gamma: the static constants (1.2, 3.0: ProxyCLIP's).
        cut: attention entries below ``min(row max, cut)`` are masked (0).
        temperature: the attention softmax's temperature (1).
        chunk_rows: attention rows computed at a time (memory bound, not a setting of the
            method: the result does not depend on it).
        official_vfm_input: give the VFM what the official code gives it: the
            CLIP-normalised window un-normalised with OpenAI's exact CLIP statistics
            (0.48145466, ...) / (0.26862954, ...), although it was normalised with the
            rounded ones of ``clip['mean']`` / ``clip['std']`` (122.771, ...) / (68.501,
            ...); the VFM then sees the pixels shifted by up to 1.6e-5 of its normalised
            input (the parity test measures its effect). Off (default): the exact pixels.
    """

    def __init__(self, class_names: str | Sequence[str], vfm: dict | None = None,
                 proxy_threshold: float = 0.6, proxy_iters: int = 2,
                 beta_alpha: float | None = 0.3, gamma_alpha: float | None = 30.0,
                 beta: float = 1.2, gamma: float = 3.0, cut: float = 0.0,
                 temperature: float = 1.0, chunk_rows: int = 2048,
                 official_vfm_input: bool = False,
                 slide_crop: int | Sequence[int] = 224,
                 slide_stride: int | Sequence[int] = 112, pad_multiple: int = 56,
                 **kwargs) -> None:
        super().__init__(class_names, slide_crop=slide_crop, slide_stride=slide_stride,
                         pad_multiple=pad_multiple, **kwargs)
        if vfm is None:
            raise ConfigError("GLACLIPSegmentor needs a vfm config, e.g. "
                              "dict(type='TimmVFM', name='dino-b8')")
        if int(proxy_iters) < 0 or temperature <= 0 or int(chunk_rows) < 1:
            raise ConfigError(f'GLA-CLIP: proxy_iters {proxy_iters} must be >= 0, '
                              f'temperature {temperature} > 0, chunk_rows {chunk_rows} >= 1')
        self.vfm = MODELS.build(vfm)
        self.official_vfm_input = bool(official_vfm_input)
        self.attention_cfg = dict(
            threshold=float(proxy_threshold), iters=int(proxy_iters),
            beta=float(beta), gamma=float(gamma),
            beta_alpha=None if beta_alpha is None else float(beta_alpha),
            gamma_alpha=None if gamma_alpha is None else float(gamma_alpha),
            cut=float(cut), temperature=float(temperature), chunk_rows=int(chunk_rows))

    def extra_towers(self) -> tuple[torch.nn.Module | None, ...]:
        return (self.vfm, )

    # ------------------------------------------------------------------ the towers
    def window_tokens(self, rgb: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
        """RGB windows (B, 3, H, W) in [0, 255] -> CLIP's value tokens of the last block
        on the VFM grid (B, n, D), the VFM's tokens (B, n, C) and the VFM grid (h, w)."""
        visual, vfm = self._towers(rgb.device)
        tokens, grid = self.encode_tokens(visual, rgb)
        values = block_value_path(visual.transformer.resblocks[-1], tokens)[:, 1:]
        if self.official_vfm_input:   # the official UnNormalize of the CLIP input
            clip_input = self.clip_normalise(rgb)
            mean = clip_input.new_tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
            std = clip_input.new_tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
            rgb = (clip_input * std + mean) * 255
        feats = vfm(rgb.to(visual.conv1.weight.dtype))                 # B, C, h, w
        size = tuple(feats.shape[-2:])
        return (resize_value_grid(values, grid, size), feats.flatten(2).transpose(1, 2),
                size)

    def _attend(self, values: torch.Tensor, feats: torch.Tensor, size: tuple[int, int],
                num_windows: int) -> torch.Tensor:
        """Values / VFM tokens of the n windows of one image (n, S, D) / (n, S, C) ->
        l2-normalised CLIP embeddings (n, E, h, w)."""
        n, s, d = values.shape
        out = global_proxy_attention(values.reshape(n * s, d),
                                     feats.reshape(n * s, -1), num_windows,
                                     **self.attention_cfg)
        return self.post_attention_head(out.reshape(n, s, d), size)

    def _text(self) -> torch.Tensor:
        return F.normalize(self.text_encoder().float(), dim=-1)

    def _scores(self, feats: torch.Tensor, text: torch.Tensor,
                window: Sequence[int]) -> torch.Tensor:
        logits = self.text_logits(feats, text)
        return F.interpolate(logits, size=tuple(window), mode='bilinear',
                             align_corners=False)

    # -------------------------------------------------------------- window scores
    def dense_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """Windows (B, 3, H, W) -> embeddings (B, E, h, w), each window its own image."""
        values, feats, size = self.window_tokens(rgb)
        return torch.cat([self._attend(values[i:i + 1], feats[i:i + 1], size, 1)
                          for i in range(rgb.shape[0])])

    def image_windows_logits(self, windows: torch.Tensor) -> torch.Tensor:
        """The windows (n, 3, H, W) of one image, padded -> their scores (n, Q, H, W):
        the towers ``window_batch_size`` windows at a time, the attention over all n."""
        batch = self.windows.batch_size
        if batch == 'auto':
            batch = 16 if windows.device.type == 'cuda' else 3
        parts = []
        with self._autocast(windows.device):
            for start in range(0, windows.shape[0], batch):
                parts.append(self.window_tokens(windows[start:start + batch]))
            values = torch.cat([p[0] for p in parts])
            feats = torch.cat([p[1] for p in parts])
            dense = self._attend(values, feats, parts[0][2], windows.shape[0])
        return self._scores(dense, self._text(), windows.shape[-2:])

    @torch.no_grad()
    def image_logits(self, images: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Window-averaged scores (Q, H_i, W_i) of each image (3, H_i, W_i): all windows
        of an image attend to each other (the official ``forward_kv_expansion``), then
        the scores are merged as the shared path merges them (sum / count)."""
        self.encode_vocabulary()
        out = []
        for image in images:
            img = self._resized(image)
            h, w = img.shape[-2:]
            boxes = self.windows.boxes(h, w)
            wh, ww = boxes[0][1] - boxes[0][0], boxes[0][3] - boxes[0][2]
            left, right, top, bottom = symmetric_padding(wh, ww, self.windows.pad_multiple)
            crops = torch.stack([img[:, y1:y2, x1:x2] for y1, y2, x1, x2 in boxes])
            crops = pad_windows(crops, (left, right, top, bottom), self.window_pad_value())
            scores = self.image_windows_logits(crops).float()[:, :, top:top + wh,
                                                                left:left + ww]
            total = img.new_zeros(scores.shape[1], h, w, dtype=torch.float32)
            count = img.new_zeros(1, h, w, dtype=torch.float32)
            for (y1, y2, x1, x2), s in zip(boxes, scores):
                total[:, y1:y2, x1:x2] += s
                count[:, y1:y2, x1:x2] += 1
            merged = total / count
            if merged.shape[-2:] != image.shape[-2:]:
                merged = F.interpolate(merged[None], size=image.shape[-2:], mode='bilinear',
                                       align_corners=False)[0]
            out.append(merged)
        return out
