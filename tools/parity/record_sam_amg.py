"""Record the official ``SamAutomaticMaskGenerator`` on seeded tiny random weights (fp32,
CPU): tests/data/parity/sam_amg.pt, checked by tests/test_sam_mask_generator.py.

Usage (not run by the tests; run from a scratch folder, never from langseg):

    PYTHONPATH=.:OFFICIAL_SAM python tools/parity/record_sam_amg.py OFFICIAL_SAM \
        tests/data/parity/sam_amg.pt

OFFICIAL_SAM: a checkout of github.com/facebookresearch/segment-anything (recorded at
dca509f; pure torch + numpy + torchvision; OpenCV for ``min_mask_region_area``).

The official model is a ``Sam`` of the official modules: a tiny ``ImageEncoderViT`` (input
256, never run), ``PromptEncoder``, ``TwoWayTransformer`` and ``MaskDecoder`` of width 16
(depth 2, 2 heads, MLP 32, IoU head 16), their weights the state dict of langseg's seeded
``SamPromptDecoder`` (the official key names: it loads strictly), stored in the file. The
official predictor's ``set_image`` is replaced by one that sets the recorded image
embedding (16 x 16 x 16, seeded Voronoi regions) and the sizes ``set_image`` would set, so that both sides
decode the same embedding (the image encoder and the resize of the image are not part of
the comparison). Each case runs ``SamAutomaticMaskGenerator(...).generate(image)`` on an
image of the case's size (its pixels unused) with thresholds low enough that random masks
survive; the masks are stored bit-packed (``np.packbits`` of the (N, H, W) bool array).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tools.parity.trident_sam_inputs import noised_decoder  # noqa: E402

DECODER_KW = dict(embed_dim=16, mask_in_chans=8, depth=2, num_heads=2, mlp_dim=32,
                  iou_head_hidden_dim=16)
IMAGE_SIZE = 256      # the encoder's input; embedding grid 16 x 16
CASES = {
    # name: (image (H, W), generator arguments)
    # NMS at IoU 1.0 suppresses nothing: every mask that passes the filters, in score order
    'no_nms': ((60, 80), dict(points_per_side=8, points_per_batch=16,
                              pred_iou_thresh=1.0, stability_score_thresh=0.1,
                              box_nms_thresh=1.0)),
    'landscape': ((60, 80), dict(points_per_side=8, points_per_batch=16,
                                 pred_iou_thresh=0.0, stability_score_thresh=0.15,
                                 box_nms_thresh=0.7)),
    'portrait': ((90, 64), dict(points_per_side=6, points_per_batch=10,
                                pred_iou_thresh=1.0, stability_score_thresh=0.3,
                                stability_score_offset=0.5, box_nms_thresh=0.7,
                                min_mask_region_area=12)),
}


def seeded_decoder(seed: int = 3):
    """langseg's decoder with seeded weights (the test loads the stored state dict, not
    this): default init, every parameter moved by seeded noise, then shaped so that random
    masks are compact and differ from point to point (else every mask is scattered over
    the whole image, all boxes are the image and NMS keeps one): the mask logits x3 (the
    hypernetworks' last layers), the foreground-point embedding x4, the positional
    frequencies x4, and the two upscaling transposed convolutions' kernels made equal over
    their 2 x 2 positions (nearest-neighbour upsampling of the features)."""
    dec = noised_decoder(IMAGE_SIZE, seed, 0.3, DECODER_KW)
    with torch.no_grad():
        for mlp in dec.mask_decoder.output_hypernetworks_mlps:
            mlp.layers[-1].weight.mul_(3.0)
            mlp.layers[-1].bias.mul_(3.0)
        dec.prompt_encoder.point_embeddings[1].weight.mul_(4.0)
        dec.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix.mul_(4.0)
        for i in (0, 3):
            conv = dec.mask_decoder.output_upscaling[i]
            conv.weight.copy_(conv.weight.mean(dim=(2, 3), keepdim=True)
                              .expand_as(conv.weight))
    return dec


def segment_embedding(seed: int = 7, segments: int = 12) -> torch.Tensor:
    """A seeded image embedding (1, C, 16, 16) made of ``segments`` Voronoi cells, each a
    random vector, plus noise: an image of regions."""
    g = torch.Generator().manual_seed(seed)
    c, grid = DECODER_KW['embed_dim'], IMAGE_SIZE // 16
    centres = torch.rand(segments, 2, generator=g) * grid
    vectors = torch.randn(segments, c, generator=g) * 2
    ys, xs = torch.meshgrid(torch.arange(grid) + 0.5, torch.arange(grid) + 0.5,
                            indexing='ij')
    dist = (ys[..., None] - centres[:, 1]) ** 2 + (xs[..., None] - centres[:, 0]) ** 2
    emb = vectors[dist.argmin(-1)].permute(2, 0, 1)[None]
    return emb + 0.3 * torch.randn(1, c, grid, grid, generator=g)


def official_sam(state: dict):
    from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                           TwoWayTransformer)
    grid = IMAGE_SIZE // 16
    c = DECODER_KW['embed_dim']
    sam = Sam(
        image_encoder=ImageEncoderViT(img_size=IMAGE_SIZE, patch_size=16, embed_dim=16,
                                      depth=1, num_heads=2, out_chans=c),
        prompt_encoder=PromptEncoder(embed_dim=c, image_embedding_size=(grid, grid),
                                     input_image_size=(IMAGE_SIZE, IMAGE_SIZE),
                                     mask_in_chans=DECODER_KW['mask_in_chans']),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=DECODER_KW['depth'], embedding_dim=c,
                                          mlp_dim=DECODER_KW['mlp_dim'],
                                          num_heads=DECODER_KW['num_heads']),
            transformer_dim=c, iou_head_depth=3,
            iou_head_hidden_dim=DECODER_KW['iou_head_hidden_dim'])).eval()
    missing, unexpected = sam.load_state_dict(state, strict=False)
    if unexpected or not all(k.startswith('image_encoder.') for k in missing):
        raise SystemExit(f'the decoder state dict does not fit the official modules: '
                         f'unexpected {unexpected}, missing {missing}')
    return sam


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('official_sam')
    parser.add_argument('out')
    args = parser.parse_args()
    sys.path.insert(0, args.official_sam)
    from segment_anything import SamAutomaticMaskGenerator

    state = {k: v.clone() for k, v in seeded_decoder().state_dict().items()}
    embedding = segment_embedding()
    sam = official_sam(state)
    out = dict(decoder_kw=DECODER_KW, image_size=IMAGE_SIZE, state_dict=state,
               embedding=embedding, cases={})
    for name, (size, kw) in CASES.items():
        gen = SamAutomaticMaskGenerator(sam, **kw)
        predictor = gen.predictor

        def set_image(image, image_format='RGB', predictor=predictor):
            predictor.reset_image()
            predictor.original_size = image.shape[:2]
            predictor.input_size = predictor.transform.get_preprocess_shape(
                image.shape[0], image.shape[1], IMAGE_SIZE)
            predictor.features = embedding
            predictor.is_image_set = True

        predictor.set_image = set_image
        image = np.zeros((*size, 3), np.uint8)
        with torch.no_grad():
            anns = gen.generate(image)
        masks = np.stack([a['segmentation'] for a in anns]) if anns else \
            np.zeros((0, *size), bool)
        out['cases'][name] = dict(
            size=size, kwargs=kw, count=len(anns),
            masks_packed=torch.from_numpy(np.packbits(masks.reshape(-1))),
            predicted_iou=torch.tensor([a['predicted_iou'] for a in anns]),
            stability_score=torch.tensor([a['stability_score'] for a in anns]),
            bbox_xywh=torch.tensor([a['bbox'] for a in anns]).reshape(-1, 4),
            point_coords=torch.tensor([a['point_coords'][0] for a in anns],
                                      dtype=torch.float64).reshape(-1, 2),
            area=torch.tensor([a['area'] for a in anns]))
        print(name, size, 'masks', len(anns), 'areas', [a['area'] for a in anns][:12])
    torch.save(out, args.out)


if __name__ == '__main__':
    main()
