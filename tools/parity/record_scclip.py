"""Record the official SC-CLIP outputs on seeded tiny weights (fp32, CPU).

Usage: PYTHONPATH=<langseg checkout> python tools/parity/record_scclip.py OFFICIAL_REPO OUT.pt

OFFICIAL_REPO: a checkout of github.com/SuleBai/SC-CLIP (commit 0417ba9). Its own model code
runs (clip/model.py, scclip_segmentor.py) on the CPU. One line is corrected for the
non-square window only (``NON_SQUARE_FIX``): the official code finds an anomaly token's
row as ``index // feat_w`` with ``feat_w`` the number of rows, right only for square
windows (every official run: 224 px crops); the square windows and the sliding-window
predictions run the official code unchanged.

The weights and inputs are tools/parity/tiny12_clip.py's (seeded, rounded to fp16 as the
official ``clip.load`` rounds them), saved as an OpenAI state dict and loaded by the
official ``clip.load``; one prompt template, '{}' (the 80 ImageNet templates average a
random text tower's classes into one); logits are stored on a strided sub-grid.
"""
import os
import sys
import tempfile

import torch

#: the vocabulary, in the official file format (synonyms separated by ', ')
NAMES = ['sky, wall', 'cat', 'dog, puppy', 'car']
#: SC-CLIP's VOC21 settings (configs/cfg_voc21.py) and defaults (scclip_segmentor.py:19-22),
#: res_cls lowered from 0.3 so that the tiny model's patches differ (0.3 times the class
#: token drowns their differences in a random tower)
SETTINGS = dict(area_thd=0.1, logit_scale=50, prob_thd=0.15, pre_adjust_idx=8,
                post_adjust_idx=3, multi_start_idx=3, multi_end_idx=10, res_cls=0.05)
#: windows need >= 31 patch tokens (the anomaly search takes 30 neighbours)
WINDOWS = {'square': (128, 128), 'square_small': (96, 96), 'tall': (160, 112)}
SLIDE = dict(crop=112, stride=56, sizes=[(144, 192), (176, 128)], ori=[(180, 240), (220, 160)])
NON_SQUARE_FIX = (
    "top_indices = [(torch.div(index, feat_w, rounding_mode='trunc'), index % feat_w)",
    "top_indices = [(torch.div(index, feat_h, rounding_mode='trunc'), index % feat_h)")



def main(repo, out):
    from tools.parity.tiny12_clip import SUB, make_image, normalise, openai_state_dict
    sys.path.insert(0, repo)
    os.chdir(repo)
    import clip.model as official_model
    import scclip_segmentor
    from mmseg.structures import SegDataSample
    # one template (the 80 ImageNet ones average a random text tower's classes together)
    scclip_segmentor.openai_imagenet_template = [lambda c: f'{c}']

    state, digest = openai_state_dict()
    tmp = tempfile.mkdtemp()
    weights, names = os.path.join(tmp, 'tiny.pt'), os.path.join(tmp, 'names.txt')
    torch.save(state, weights)
    with open(names, 'w') as f:
        f.write('\n'.join(NAMES))
    torch.set_grad_enabled(False)
    model = scclip_segmentor.SCCLIPForSegmentation(
        clip_path=weights, name_path=names, device=torch.device('cpu'), slide_crop=SLIDE['crop'],
        slide_stride=SLIDE['stride'], **SETTINGS).eval()
    rec = dict(text=model.query_features.clone(), weights_abs_sum=digest,
               settings=dict(SETTINGS, names=list(NAMES)), windows={}, sub=[3, 8, 5, 8])

    # the non-square window: the official forward with the anomaly position corrected
    src = open(official_model.__file__).read()
    if src.count(NON_SQUARE_FIX[0]) != 1:
        sys.exit(f'{official_model.__file__}: the anomaly-position line to correct was not '
                 'found once (another commit of the official code?)')
    fixed = {}
    exec(compile(src.replace(*NON_SQUARE_FIX), official_model.__file__, 'exec'), fixed)
    fixed_forward = fixed['VisionTransformer'].forward
    for i, (name, (h, w)) in enumerate(WINDOWS.items()):
        x = normalise(make_image(100 + i, h, w))[None]
        if h != w:
            try:
                unfixed = model.forward_feature(x)
            except Exception as exc:  # noqa: BLE001
                unfixed = None
                print(name, 'the uncorrected official code fails:', type(exc).__name__, exc)
            saved = official_model.VisionTransformer.forward
            official_model.VisionTransformer.forward = fixed_forward
            logits = model.forward_feature(x)
            official_model.VisionTransformer.forward = saved
            if unfixed is not None:
                print(name, 'uncorrected official code: max abs difference',
                      float((unfixed - logits).abs().max()))
        else:
            logits = model.forward_feature(x)
        rec['windows'][name] = logits[0][:, SUB[0], SUB[1]].clone()
        print(name, tuple(logits.shape), 'max prob < prob_thd:',
              float((torch.softmax(logits * SETTINGS['logit_scale'], 1).max(1)[0]
                     < SETTINGS['prob_thd']).float().mean()))

    logits_out, labels_out, probs_out = [], [], []
    for j, ((h, w), ori) in enumerate(zip(SLIDE['sizes'], SLIDE['ori'])):
        x = normalise(make_image(200 + j, h, w))[None]
        logits = model.forward_slide(x, [dict(ori_shape=(h, w))], model.slide_stride,
                                     model.slide_crop)
        sample = SegDataSample(metainfo=dict(ori_shape=ori, img_shape=(h, w)))
        result = model.predict(x, [sample])[0]
        pred = result.pred_sem_seg.data[0]
        probs_out.append(result.seg_logits.data[:, SUB[0], SUB[1]].clone())
        logits_out.append(logits[0][:, SUB[0], SUB[1]].clone())
        labels_out.append(pred.to(torch.uint8).clone())
        print('  image', (h, w), '->', ori, 'label counts',
              torch.bincount(pred.flatten(), minlength=len(NAMES)).tolist())
    rec['slide'] = dict(logits=logits_out, labels=labels_out, probs=probs_out)
    torch.save(rec, out)
    print('saved', out, os.path.getsize(out), 'bytes')


if __name__ == '__main__':
    main(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
