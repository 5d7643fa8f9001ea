"""Trident: splice-then-segment with CLIP, DINO and SAM (Shi, Dong and Xu, "Harnessing Vision
Foundation Models for High-Performance, Training-Free Open Vocabulary Segmentation", ICCV
2025, arXiv:2411.09219).

CLIP and DINO score sub-images (windows) as ProxyCLIP does (Lan et al., ECCV 2024,
arXiv:2408.04883, Sec. 3.2), with one proxy-attention mean over all windows of the image;
the windows' attention outputs are spliced onto the whole image's grid (averaged where
they overlap); SAM's last global attention over the whole image, kept where SAM's value
tokens agree, aggregates the spliced features; then CLIP's head and the text queries
(``langseg.methods.trident.guidance`` holds each step). The scores are on SAM's grid and
resized once, to the original size, by the shared post-processing
(``langseg.models.segmentors.open_vocab``: ``softmax(40 s)``, the max over a class's
synonyms, ``prob_thd`` -> class 0).

With ``sam_refinement=True`` (the published numbers: ``eval.py --sam_refine``,
``dist_test.sh:3``) the labels and probabilities are then refined by SAM's prompt encoder
and mask decoder (``langseg.models.backbones.sam_prompt``), prompted by the connected
regions of the coarse label map (``langseg.methods.trident.refinement``, the official
``seg_utils/utils.py:92-197``); SAM's image embedding comes from the same encoder pass as
its attention (Cityscapes: one more pass over the whole image, as the official code does).

The official code (github.com/YuHengsss/Trident at a93b346) decides every step;
docs/methods/trident.md lists each setting with its file and line, the departures and the
tests.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

from ...models.layers import block_value_path, resize_value_grid
from ...models.segmentors.clip_dense import CLIPDenseSegmentor
from ...models.segmentors.open_vocab import InferenceOptions, store_prediction
from ...registry import MODELS
from ...utils.errors import ConfigError
from .guidance import image_proxy_attention, sam_guidance, sam_last_attention, splice_windows
from .refinement import sam_refinement as refine_labels


def stride_multiple_size(h: int, w: int, stride: int, crop: int) -> tuple[int, int]:
    """The official ``preprocess_image`` rule (``seg_utils/utils.py:9-25``): an image whose
    sides are multiples of ``stride`` is kept; otherwise the long side goes up to the next
    multiple, the short side by the same factor (truncated), both rounded up to multiples
    of ``stride`` and at least ``crop``."""
    if h % stride == 0 and w % stride == 0:
        return h, w
    longer = max(h, w)
    target = longer if longer % stride == 0 else (longer // stride + 1) * stride
    new_h, new_w = int(h * target / longer), int(w * target / longer)
    new_h = new_h if new_h % stride == 0 else (new_h // stride + 1) * stride
    new_w = new_w if new_w % stride == 0 else (new_w // stride + 1) * stride
    return max(new_h, crop), max(new_w, crop)


def longest_side_size(h: int, w: int, length: int) -> tuple[int, int]:
    """segment-anything's ``ResizeLongestSide.get_preprocess_shape``: long side ``length``,
    the other scaled and rounded half up."""
    scale = length / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def _resize_pixels(x: torch.Tensor, size: tuple[int, int], antialias: bool) -> torch.Tensor:
    """(3, h, w) pixels -> ``size``, bilinear, rounded to integers in [0, 255] (the official
    code resizes uint8 images: cv2, then PIL with antialiasing)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    out = F.interpolate(x[None].float(), size=size, mode='bilinear', align_corners=False,
                        antialias=antialias)[0]
    return out.round().clamp(0, 255).to(x.dtype)


@MODELS.register_module()
class TridentSegmentor(CLIPDenseSegmentor):
    """CLIP + DINO + SAM, splice-then-segment (see the module docstring).

    Args:
        class_names, clip, templates, logit_scale, prob_thd, window_batch_size,
            short_side, precision, cpu_precision, pos_interp, pamr, tile_rows, keep_probs,
            data_preprocessor: as for
            :class:`~langseg.models.segmentors.clip_dense.CLIPDenseSegmentor`.
        vfm: the VFM of the sub-images (official: DINO ViT-B/16, ``name='dino-b16'``).
        sam: the SAM image encoder (``dict(type='TimmVFM', name='sam-b')``); its last block
            must use global attention (SAM ViT-B/L/H).
        beta, gamma: the proxy attention's constants (1.2, 3.0).
        cos_fac: the SAM guidance threshold's factor (1.2; Cityscapes 3.0, VOC20 0).
        refine_neg_cos: keep negative thresholds (official default ``True``).
        sam_split: SAM runs on this many vertical strips of the image, side by side (the
            official code splits Cityscapes in two halves; 1 elsewhere).
        sam_size: SAM's input size (the long side; 1024).
        slide_crop, slide_stride: the sub-images (336 / 224; VOC20 stride 112); multiples
            of CLIP's patch size (the splice puts windows on the patch grid).
        official_vfm_input: give DINO what the official code gives it: the CLIP-normalised
            window un-normalised with OpenAI's exact CLIP statistics, although it was
            normalised with the rounded ones of ``clip['mean']`` / ``clip['std']`` (a
            shift of up to 1.6e-5 of DINO's normalised input). Off (default): the exact
            pixels.
        sam_refinement: refine the labels with SAM's prompt encoder and mask decoder
            (``refinement.py``; the official ``--sam_refine`` of the published numbers).
            Off by default (the official ``Trident.__init__`` default, ``trident.py:31``);
            the configs turn it on.
        sam_decoder: SAM's prompt encoder and mask decoder (``dict(type='SamPromptDecoder',
            pretrained='checkpoints/sam_vit_b_01ec64.pth')``: the official SAM ViT-B
            checkpoint, a local file); its ``image_size`` is ``sam_size``, its
            ``embed_dim`` must be the SAM encoder's neck width. Needed with
            ``sam_refinement``.
        coarse_thresh, minimal_area, sam_mask_coff, sam_iou_thresh: the refinement's
            settings (``trident.py:33``, ``:93``; the configs: 0.2 (per benchmark), 225,
            0.005, 0.8).
    """

    def __init__(self, class_names: str | Sequence[str], vfm: dict | None = None,
                 sam: dict | None = None, beta: float = 1.2, gamma: float = 3.0,
                 cos_fac: float = 1.2, refine_neg_cos: bool = True, sam_split: int = 1,
                 sam_size: int = 1024, slide_crop: int = 336, slide_stride: int = 224,
                 official_vfm_input: bool = False, sam_refinement: bool = False,
                 sam_decoder: dict | None = None, coarse_thresh: float = 0.1,
                 minimal_area: int = 225, sam_mask_coff: float = 0.005,
                 sam_iou_thresh: float = 0.9, **kwargs) -> None:
        if kwargs.get('pad_multiple'):
            raise ConfigError('TridentSegmentor takes no pad_multiple: its windows lie on '
                              "CLIP's patch grid and are never padded")
        kwargs.pop('pad_multiple', None)
        super().__init__(class_names, slide_crop=slide_crop, slide_stride=slide_stride,
                         pad_multiple=0, **kwargs)
        if vfm is None or sam is None:
            raise ConfigError("TridentSegmentor needs vfm and sam configs, e.g. "
                              "vfm=dict(type='TimmVFM', name='dino-b16'), "
                              "sam=dict(type='TimmVFM', name='sam-b')")
        self.vfm = MODELS.build(vfm)
        self.sam = MODELS.build(sam)
        if getattr(self.sam, 'kind', None) != 'sam':
            raise ConfigError(f'TridentSegmentor: sam must be a SAM image encoder '
                              f"(TimmVFM kind 'sam'), got {type(self.sam).__name__} "
                              f"{getattr(self.sam, 'kind', '')!r}")
        # segment-anything's encoder normalises with eps 1e-6 (build_sam.py:72); timm's
        # VisionTransformerSAM with nn.LayerNorm's 1e-5
        for module in self.sam.model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.eps = 1e-6
        self.patch = int(self.visual.conv1.kernel_size[0])
        crop, stride = self.windows.crop, self.windows.stride
        if any(c % self.patch for c in crop + stride):
            raise ConfigError(f'Trident: slide_crop {crop} and slide_stride {stride} must be '
                              f"multiples of CLIP's patch size {self.patch}")
        if int(sam_split) < 1:
            raise ConfigError(f'sam_split {sam_split}: expected 1 or more strips')
        self.beta, self.gamma = float(beta), float(gamma)
        self.cos_fac, self.refine_neg_cos = float(cos_fac), bool(refine_neg_cos)
        self.sam_split, self.sam_size = int(sam_split), int(sam_size)
        self.official_vfm_input = bool(official_vfm_input)
        self.sam_refinement = bool(sam_refinement)
        self.coarse_thresh, self.minimal_area = float(coarse_thresh), int(minimal_area)
        self.sam_mask_coff, self.sam_iou_thresh = float(sam_mask_coff), float(sam_iou_thresh)
        self.sam_decoder = self._build_sam_decoder(sam_decoder) if self.sam_refinement \
            else None

    def _build_sam_decoder(self, cfg: dict | None) -> torch.nn.Module:
        if not cfg:
            raise ConfigError("Trident: sam_refinement=True needs sam_decoder=dict(type="
                              "'SamPromptDecoder', pretrained='checkpoints/"
                              "sam_vit_b_01ec64.pth') (the official SAM checkpoint)")
        cfg = dict(cfg)
        cfg.setdefault('type', 'SamPromptDecoder')
        if cfg.setdefault('image_size', self.sam_size) != self.sam_size:
            raise ConfigError(f"Trident: sam_decoder image_size {cfg['image_size']} differs "
                              f'from sam_size {self.sam_size}: expected the same (or none)')
        decoder = MODELS.build(cfg)
        width = getattr(self.sam.model, 'num_features', None)
        if width is not None and decoder.embed_dim != width:
            raise ConfigError(f'Trident: sam_decoder embed_dim {decoder.embed_dim} differs '
                              f"from the SAM encoder's output width {width}: expected the "
                              'same (SAM ViT-B/L/H: 256)')
        return decoder

    def _names_pretrained_weights(self) -> bool:
        return super()._names_pretrained_weights() or bool(
            self.sam_decoder is not None and self.sam_decoder.pretrained)

    def extra_towers(self) -> tuple[torch.nn.Module | None, ...]:
        return (self.vfm, self.sam)

    # ------------------------------------------------------------ sub-images (CLIP)
    def spliced_features(self, img: torch.Tensor) -> torch.Tensor:
        """RGB image (3, H, W) in [0, 255] -> the windows' proxy-attention outputs
        (``out_proj`` applied) spliced on the image's grid, (D, h, w)."""
        visual, vfm, _ = self._towers(img.device)
        p = self.patch
        size = stride_multiple_size(*img.shape[-2:], p, max(self.windows.crop))
        if tuple(size) != tuple(img.shape[-2:]):
            img = F.interpolate(img[None].float(), size=size, mode='bilinear',
                                align_corners=False)[0]
        boxes = self.windows.boxes(*size)
        crops = torch.stack([img[:, y1:y2, x1:x2] for y1, y2, x1, x2 in boxes])
        batch = self.windows.batch_size
        if batch == 'auto':
            batch = 16 if img.device.type == 'cuda' else 3
        values, feats = [], []
        for start in range(0, len(crops), batch):
            chunk = crops[start:start + batch]
            tokens, grid = self.encode_tokens(visual, chunk)
            v = block_value_path(visual.transformer.resblocks[-1], tokens)[:, 1:]
            if self.official_vfm_input:   # the official UnNormalize of the CLIP input
                mean = chunk.new_tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
                std = chunk.new_tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
                chunk = (self.clip_normalise(chunk) * std + mean) * 255
            f = vfm(chunk.to(visual.conv1.weight.dtype))
            values.append(resize_value_grid(v, grid, tuple(f.shape[-2:])))
            feats.append(f)
        feats = torch.cat(feats)
        out = self.out_proj(image_proxy_attention(torch.cat(values), feats, self.beta,
                                                  self.gamma))          # n, S, D
        n, (fh, fw) = len(crops), feats.shape[-2:]
        th, tw = crops.shape[-2] // p, crops.shape[-1] // p
        win = out.transpose(1, 2).reshape(n, -1, fh, fw)
        if fw % tw:   # the official rule (transformer.py:601-605)
            ratio = int(round(fh / th))
            win = F.interpolate(win, size=(th * ratio, tw * ratio), mode='bilinear',
                                align_corners=False)
        else:
            ratio = fw // tw
        grid_boxes = [(y1 // p * ratio, y2 // p * ratio, x1 // p * ratio, x2 // p * ratio)
                      for y1, y2, x1, x2 in boxes]
        return splice_windows(win, grid_boxes, (size[0] // p * ratio, size[1] // p * ratio))

    # ------------------------------------------------------------------ SAM guidance
    def sam_inputs(self, img: torch.Tensor) -> list[torch.Tensor]:
        """The SAM input strips (3, h, w) in [0, 255]: the image with sides rounded up to
        multiples of 16 (``trident.py:135-140``), split into ``sam_split`` vertical strips
        (Cityscapes: two, ``trident.py:141-151``), each resized to SAM's long side
        (``ResizeLongestSide``)."""
        h, w = img.shape[-2:]
        size = (-(-h // 16) * 16, -(-w // 16) * 16)
        img = _resize_pixels(img, size, antialias=False)
        step = size[1] // self.sam_split
        strips = [img[:, :, i * step:(i + 1) * step if i + 1 < self.sam_split else size[1]]
                  for i in range(self.sam_split)]
        return [_resize_pixels(s, longest_side_size(*s.shape[-2:], self.sam_size),
                               antialias=True) for s in strips]

    def _sam_input(self, strip: torch.Tensor) -> torch.Tensor:
        """(3, h, w) pixels -> SAM's input (1, 3, S, S): normalised, zero-padded."""
        _, _, sam = self._towers(strip.device)
        x = (strip[None].to(sam.mean) - sam.mean) / sam.std
        h, w = x.shape[-2:]
        return F.pad(x, (0, self.sam_size - w, 0, self.sam_size - h))

    def sam_attention(self, strip: torch.Tensor, embedding: bool = False
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One strip (3, h, w) -> SAM's last attention (heads, n, n) and values
        (heads, n, d) on its valid grid (h // 16, w // 16); with ``embedding`` also the
        image embedding (1, C, S/16, S/16) of the same pass."""
        _, _, sam = self._towers(strip.device)
        h, w = strip.shape[-2:]
        patch = int(sam.model.patch_embed.proj.kernel_size[0])
        return sam_last_attention(sam.model, self._sam_input(strip), (h // patch, w // patch),
                                  embedding)

    def sam_embedding(self, img: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """The refinement's SAM input of an image (3, H, W): its sides rounded up to
        multiples of 16 (``trident.py:135-140``), then ResizeLongestSide (the official
        ``set_image``) -> the image embedding (1, C, S/16, S/16) (the encoder's own
        forward) and the rounded size (the predictor's ``original_size``)."""
        h, w = img.shape[-2:]
        size = (-(-h // 16) * 16, -(-w // 16) * 16)
        whole = _resize_pixels(img, size, antialias=False)
        whole = _resize_pixels(whole, longest_side_size(*size, self.sam_size), antialias=True)
        _, _, sam = self._towers(img.device)
        return sam.model.forward_features(self._sam_input(whole)), size

    def trident_features(self, img: torch.Tensor) -> torch.Tensor:
        """RGB image (3, H, W) in [0, 255] -> l2-normalised CLIP embeddings (E, h, w) on
        SAM's grid (the strips' grids side by side)."""
        return self.trident_outputs(img)[0]

    def trident_outputs(self, img: torch.Tensor, embedding: bool = False
                        ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, int] | None]:
        """:meth:`trident_features`, and with ``embedding`` SAM's image embedding of the
        whole image (one strip: from the same pass; Cityscapes' strips: one more pass over
        the whole image) and the size SAM's input was resized from."""
        spliced = self.spliced_features(img)                               # D, gh, gw
        strips = self.sam_inputs(img)
        step = spliced.shape[-1] // self.sam_split     # the official halves: [:W//2], [W//2:]
        parts = [spliced[..., i * step:(i + 1) * step if i + 1 < self.sam_split else None]
                 for i in range(self.sam_split)]
        outs, height = [], None
        patch = int(self.sam.model.patch_embed.proj.kernel_size[0])
        whole = embedding and self.sam_split == 1
        sam_embedding = sam_size = None
        for strip, part in zip(strips, parts):
            probs, values, emb = self.sam_attention(strip, whole)
            if emb is not None:
                sam_embedding = emb
                sam_size = (-(-img.shape[-2] // 16) * 16, -(-img.shape[-1] // 16) * 16)
            vh, vw = strip.shape[-2] // patch, strip.shape[-1] // patch
            part = F.interpolate(part[None].float(), size=(vh, vw), mode='bilinear',
                                 align_corners=False)[0]
            weights = sam_guidance(values, probs, self.cos_fac, self.refine_neg_cos)
            outs.append((weights @ part.flatten(1).T).T.reshape(-1, vh, vw))
            height = vh if height is None else height
        if any(o.shape[-2] != height for o in outs):
            raise ConfigError('Trident: the SAM strips have grids of different heights')
        out = torch.cat(outs, dim=-1)                                       # D, h, w
        feats = self.head(out.flatten(1).T[None], tuple(out.shape[-2:]))[0]
        if embedding and sam_embedding is None:
            sam_embedding, sam_size = self.sam_embedding(img)
        return feats, sam_embedding, sam_size

    # -------------------------------------------------------------------- scores
    def dense_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> embeddings (B, E, h, w) on SAM's grid, each image on
        its own (``window_logits``, the FLOPs tool's graph)."""
        return torch.stack([self.trident_features(img) for img in rgb])

    @torch.no_grad()
    def image_logits(self, images: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Cosine scores (Q, h, w) of each image on SAM's grid: the official code resizes
        them once, bilinear, to the original size (``trident.py:185-187``), which the
        shared post-processing does with any input size."""
        return [logits for logits, _, _ in self.image_outputs(images)]

    @torch.no_grad()
    def image_outputs(self, images: Sequence[torch.Tensor], embedding: bool = False
                      ) -> list[tuple[torch.Tensor, torch.Tensor | None,
                                      tuple[int, int] | None]]:
        """Per image: the scores of :meth:`image_logits` and, with ``embedding``, SAM's
        image embedding (fp32) and the size SAM's input was resized from."""
        self.encode_vocabulary()
        text = F.normalize(self.text_encoder().float(), dim=-1)
        out = []
        for image in images:
            with self._autocast(image.device):
                feats, emb, size = self.trident_outputs(self._resized(image), embedding)
            out.append((self.text_logits(feats[None].float(), text)[0],
                        None if emb is None else emb.float(), size))
        return out

    # ----------------------------------------------------------------- refinement
    @torch.no_grad()
    def refine(self, labels: torch.Tensor, probs: torch.Tensor, embedding: torch.Tensor,
               sam_size: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The SAM refinement (``refinement.sam_refinement``) of one image's labels (H, W)
        and probabilities (K, H, W), in fp32 (the official decoder runs in fp32,
        ``trident.py:88-89``)."""
        with torch.autocast(device_type=probs.device.type, enabled=False):
            labels, probs, _ = refine_labels(
                labels, probs.float(), embedding.float(), self.sam_decoder, sam_size,
                self.coarse_thresh, self.minimal_area, self.sam_mask_coff,
                self.sam_iou_thresh)
        return labels, probs

    def predict(self, inputs: torch.Tensor, data_samples: list | None = None,
                options: InferenceOptions | None = None) -> list:
        """The shared ``predict``; with ``sam_refinement`` each image's post-processed
        labels and probabilities (at the original size) are refined by SAM."""
        if not self.sam_refinement:
            return super().predict(inputs, data_samples, options)
        from mmseg.structures import SegDataSample
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(img_shape=inputs.shape[-2:],
                                                         ori_shape=inputs.shape[-2:]))
                            for _ in range(inputs.shape[0])]
        opts = self.options if options is None else options
        images = []
        for img, sample in zip(inputs, data_samples):
            h, w = sample.metainfo.get('img_shape', img.shape[-2:])[:2]
            images.append(img[:, :h, :w])
        outputs = self.image_outputs(images, embedding=True)
        for (logits, emb, sam_size), image, sample in zip(outputs, images, data_samples):
            size = sample.metainfo.get('ori_shape', logits.shape[-2:])[:2]
            probs, labels = self.postprocess(logits, size, image,
                                             opts.replace(keep_probs=True))
            labels, probs = self.refine(labels, probs, emb, sam_size)
            store_prediction(sample, probs if opts.keep_probs else None, labels)
        return data_samples
