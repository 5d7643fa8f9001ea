"""Record the official SAM prompt encoder / mask decoder and Trident's SAM refinement on
seeded tiny random weights (fp32, CPU): tests/data/parity/trident_sam.pt.

Usage (not run by the tests):

    PYTHONPATH=. python tools/parity/record_trident_sam.py OFFICIAL_TRIDENT OFFICIAL_SAM \
        DINO_REPO tests/data/parity/trident_sam.pt

OFFICIAL_TRIDENT: a checkout of github.com/YuHengsss/Trident (recorded at a93b346);
OFFICIAL_SAM: a checkout of github.com/facebookresearch/segment-anything (recorded at
dca509f); DINO_REPO: github.com/facebookresearch/dino (for the end-to-end part, as
tools/parity/record_trident.py uses it). Three parts, and the official SAM's prompt encoder
and mask decoder key names and shapes (``official_keys``):

1. ``decoder``: segment-anything's ``PromptEncoder``, ``TwoWayTransformer``, ``MaskDecoder``
   (transformer width 32, depth 2, 2 heads, MLP 64; image embedding 32 x 16 x 16 of a 256
   input) with the state dict of langseg's seeded ``SamPromptDecoder`` (the key names are
   the official ones: it loads strictly), called through the official ``SamPredictor
   .predict_torch`` (features, sizes set as ``set_torch_image`` sets them; coordinates
   mapped by its ``ResizeLongestSide``) on six prompt sets: points, boxes, points + boxes +
   a mask (multimask on and off), a mask alone, and the unbatched mask of Trident's call.
2. ``refine_*``: Trident's ``seg_utils/utils.py`` ``sam_refinement`` on seeded coarse labels
   and probabilities of a 144 x 144 and a 150 x 201 image (random image embedding
   32 x 64 x 64 of a 1024 input, the same decoder weights), the official predictor as
   above; the IoU threshold of each case is the midpoint of two official IoU predictions
   near their median (some regions pass, some fail).
3. ``e2e``: the whole official ``get_trident_seg`` + ``postprocess_result`` with
   ``sam_refine=True`` on the first image of tools/parity/record_trident.py (1024 x 768,
   its towers; a seeded decoder of width 16, the tiny SAM encoder's neck), as
   eval.py --sam_refine runs it, ``.half()`` the identity.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from tools.parity.trident_sam_inputs import (DECODER_KW, E2E_DECODER_KW, ORIGINAL,  # noqa: E402
                                            decoder_cases, refine_inputs, tiny_decoder)
REFINE = dict(square=dict(size=(144, 144), coarse_thresh=0.0, prob_thd=0.35, classes=4),
              nonsquare=dict(size=(150, 201), coarse_thresh=0.2, prob_thd=0.35, classes=4))
MINIMAL_AREA, MASK_COFF = 40, 0.005
E2E = dict(coarse_thresh=0.2, minimal_area=225, sam_mask_coff=0.005)


def sam_size(size):
    return tuple(-(-s // 16) * 16 for s in size)


SAM_ROOT: list[str] = []


def import_official_sam(root):
    sys.path.insert(0, root)
    SAM_ROOT.append(root)
    from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
    from segment_anything.predictor import SamPredictor
    return PromptEncoder, TwoWayTransformer, MaskDecoder, Sam, SamPredictor


class Encoder(torch.nn.Module):
    """What SamPredictor / Sam read of the image encoder: ``img_size``."""

    def __init__(self, img_size):
        super().__init__()
        self.img_size = img_size


def official_predictor(mods, langseg_decoder, image_size, embedding, original_size,
                       encoder=None):
    PromptEncoder, TwoWayTransformer, MaskDecoder, Sam, SamPredictor = mods
    kw = dict(DECODER_KW) if langseg_decoder.embed_dim == 32 else dict(E2E_DECODER_KW)
    grid = image_size // 16
    pe = PromptEncoder(embed_dim=kw['embed_dim'], image_embedding_size=(grid, grid),
                       input_image_size=(image_size, image_size),
                       mask_in_chans=kw['mask_in_chans'])
    md = MaskDecoder(transformer_dim=kw['embed_dim'],
                     transformer=TwoWayTransformer(depth=kw['depth'],
                                                   embedding_dim=kw['embed_dim'],
                                                   mlp_dim=kw['mlp_dim'],
                                                   num_heads=kw['num_heads']),
                     num_multimask_outputs=3, iou_head_depth=3,
                     iou_head_hidden_dim=kw['iou_head_hidden_dim'])
    sam = Sam(image_encoder=encoder if encoder is not None else Encoder(image_size),
              prompt_encoder=pe, mask_decoder=md).eval()
    state = langseg_decoder.state_dict()
    sam.prompt_encoder.load_state_dict({k[len('prompt_encoder.'):]: v for k, v in state.items()
                                        if k.startswith('prompt_encoder.')}, strict=True)
    sam.mask_decoder.load_state_dict({k[len('mask_decoder.'):]: v for k, v in state.items()
                                      if k.startswith('mask_decoder.')}, strict=True)
    predictor = SamPredictor(sam)
    if embedding is not None:   # what set_torch_image stores
        predictor.features = embedding
        predictor.original_size = tuple(original_size)
        predictor.input_size = predictor.transform.get_preprocess_shape(
            *original_size, image_size)
        predictor.is_image_set = True
    return predictor


def record_official_keys(mods, record):
    """The key names and shapes of the official SAM's prompt encoder and mask decoder
    (``build_sam.py:62-98``: the same for ViT-B/L/H), as a checkpoint holds them."""
    PromptEncoder, TwoWayTransformer, MaskDecoder, _, _ = mods
    parts = dict(
        prompt_encoder=PromptEncoder(embed_dim=256, image_embedding_size=(64, 64),
                                     input_image_size=(1024, 1024), mask_in_chans=16),
        mask_decoder=MaskDecoder(num_multimask_outputs=3, transformer=TwoWayTransformer(
            depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8), transformer_dim=256,
            iou_head_depth=3, iou_head_hidden_dim=256))
    record['official_keys'] = {f'{name}.{k}': tuple(v.shape) for name, part in parts.items()
                               for k, v in part.state_dict().items()}
    print(len(record['official_keys']), 'official prompt_encoder / mask_decoder keys')


def record_decoder(mods, record):
    dec = tiny_decoder(256)
    emb, cases = decoder_cases()
    pred = official_predictor(mods, dec, 256, emb, ORIGINAL)
    out = {}
    with torch.no_grad():
        for name, case in cases.items():
            coords = case.get('point_coords')
            if coords is not None:
                coords = pred.transform.apply_coords_torch(coords, ORIGINAL)
            boxes = case.get('boxes')
            if boxes is not None:
                boxes = pred.transform.apply_boxes_torch(boxes, ORIGINAL)
            logits, iou, low = pred.predict_torch(coords, case.get('point_labels'), boxes,
                                                  case.get('mask_input'), case['multimask'],
                                                  return_logits=True)
            masks, _, _ = pred.predict_torch(coords, case.get('point_labels'), boxes,
                                             case.get('mask_input'), case['multimask'])
            out[name] = dict(low_res=low[..., ::4, ::4].clone(), iou=iou.clone(),
                             logits=logits[..., ::12, ::12].clone(),
                             masks=masks[..., ::12, ::12].clone())
            print(name, tuple(low.shape), tuple(logits.shape), f'{iou.mean():.4f}')
    record['decoder'] = out


def midpoint_threshold(scores):
    s = np.sort(np.asarray(scores, dtype=np.float64))
    i = max(1, len(s) // 2)
    return float((s[i - 1] + s[i]) / 2)


def capture_scores(predictor):
    scores = []
    orig = predictor.predict_torch

    def wrapped(*a, **k):
        out = orig(*a, **k)
        scores.extend(out[1][:, 0].tolist())
        return out
    predictor.predict_torch = wrapped
    return scores, orig


def record_refine(mods, official_root, record):
    spec = importlib.util.spec_from_file_location(
        'trident_seg_utils', os.path.join(official_root, 'seg_utils', 'utils.py'))
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    dec = tiny_decoder(1024)
    for seed, (name, case) in enumerate(REFINE.items()):
        labels, probs, emb = refine_inputs(case['size'], case['classes'], case['prob_thd'],
                                           31 + seed)
        pred = official_predictor(mods, dec, 1024, emb, sam_size(case['size']))
        img = np.zeros((*case['size'], 3), dtype=np.uint8)
        args = (img, labels[None].clone(), probs.clone(), case['classes'], pred,
                case['coarse_thresh'], MINIMAL_AREA, MASK_COFF)
        scores, orig = capture_scores(pred)
        with torch.no_grad():
            utils.sam_refinement(*args, sam_iou_thresh=-1e9)
        thr = midpoint_threshold(scores)
        pred.predict_torch = orig
        with torch.no_grad():
            out_labels, _, out_probs, boxes = utils.sam_refinement(*args, sam_iou_thresh=thr)
        passed = sum(s > thr for s in scores)
        record[f'refine_{name}'] = dict(
            labels=out_labels[0].to(torch.uint8).clone(), probs=out_probs[:, ::4, ::4].clone(),
            iou_thresh=thr, prompts=len(scores), passed=passed,
            boxes=boxes.clone() if torch.is_tensor(boxes) else torch.zeros(0, 4))
        changed = (out_labels[0] != labels).float().mean()
        print(name, case['size'], f'thr {thr:.4f}, {passed}/{len(scores)} prompts pass, '
              f'{100 * changed:.1f} % labels changed')


def record_e2e(trident_root, dino_root, record):
    for name in list(sys.modules):   # Trident brings its own (modified) segment_anything
        if name == 'segment_anything' or name.startswith('segment_anything.'):
            del sys.modules[name]
    sys.path[:] = [p for p in sys.path if p != SAM_ROOT[0]]
    sys.path.insert(0, HERE)
    import record_trident as rt
    towers = rt.tiny_towers()
    modules = rt.load_official(trident_root, dino_root)
    seg = rt.build_official(towers, modules)
    from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
    from segment_anything.predictor import SamPredictor
    mods = (PromptEncoder, TwoWayTransformer, MaskDecoder, Sam, SamPredictor)
    dec = tiny_decoder(1024, seed=13, kw=E2E_DECODER_KW)
    pred = official_predictor(mods, dec, 1024, None, None,
                              encoder=seg.sam.image_encoder)
    seg.sam, seg.sam_predictor = pred.model, pred
    seg.sam_refine = True
    seg.coarse_thresh, seg.minimal_area = E2E['coarse_thresh'], E2E['minimal_area']
    seg.sam_mask_coff = E2E['sam_mask_coff']
    import cv2
    from mmseg.structures import SegDataSample
    half = torch.Tensor.half
    # fp32 on the CPU: floating tensors stay as they are (labels still go through half)
    torch.Tensor.half = lambda self, *a, **k: self if self.is_floating_point() else \
        half(self, *a, **k)
    mean = torch.tensor(rt.CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(rt.CLIP_STD).view(3, 1, 1)
    try:
        with torch.no_grad(), tempfile.TemporaryDirectory() as tmp:
            img = rt.inputs()[0]
            path = os.path.join(tmp, 'img0.png')
            cv2.imwrite(path, img.numpy()[:, :, ::-1])
            h, w = img.shape[:2]
            meta = dict(img_path=path, ori_shape=(h, w), img_shape=(h, w))
            src = ((img.permute(2, 0, 1).float() - mean) / std)[None]
            logits = seg.get_trident_seg(src, path, [meta])
            scores, orig = capture_scores(pred)
            seg.sam_iou_thresh = -1e9
            seg.postprocess_result(logits.clone(), [SegDataSample(metainfo=meta)])
            thr = midpoint_threshold(scores)
            pred.predict_torch = orig
            seg.sam_iou_thresh = thr
            sample = SegDataSample(metainfo=meta)
            seg.postprocess_result(logits.clone(), [sample])
            seg.sam_refine = False
            plain = SegDataSample(metainfo=meta)
            seg.postprocess_result(logits.clone(), [plain])
            features = seg.sam_predictor.features
    finally:
        torch.Tensor.half = half
    labels = sample.pred_sem_seg.data[0]
    coarse_labels = plain.pred_sem_seg.data[0]
    record['e2e'] = dict(
        labels=labels[::4, ::4].to(torch.uint8).clone(),
        probs=sample.seg_logits.data[:, ::32, ::32].clone(),
        features=features[0, :, ::4, ::4].clone(), iou_thresh=thr, prompts=len(scores),
        passed=sum(s > thr for s in scores), settings=dict(E2E), size=(h, w))
    print('e2e', (h, w), f'thr {thr:.4f}, {record["e2e"]["passed"]}/{len(scores)} pass, '
          f'{100 * (labels != coarse_labels).float().mean():.1f} % labels changed by SAM')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('official')
    parser.add_argument('sam')
    parser.add_argument('dino')
    parser.add_argument('out')
    args = parser.parse_args()
    os.environ['LANGSEG_CACHE_DIR'] = 'off'
    torch.set_num_threads(2)
    import langseg  # noqa: F401  (the installed open_clip first)
    record = dict(decoder_kw=dict(DECODER_KW), e2e_decoder_kw=dict(E2E_DECODER_KW),
                  original=ORIGINAL, refine_cases={k: dict(v) for k, v in REFINE.items()},
                  minimal_area=MINIMAL_AREA, mask_coff=MASK_COFF)
    mods = import_official_sam(os.path.abspath(args.sam))
    record_official_keys(mods, record)
    record_decoder(mods, record)
    record_refine(mods, os.path.abspath(args.official), record)
    record_e2e(os.path.abspath(args.official), os.path.abspath(args.dino), record)
    torch.save(record, args.out)
    print(args.out, f'{os.path.getsize(args.out) / 1024:.0f} KB')


if __name__ == '__main__':
    main()
