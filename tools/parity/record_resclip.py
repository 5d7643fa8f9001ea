"""Record the official ResCLIP outputs on seeded tiny weights (fp32, CPU).

Usage: PYTHONPATH=<langseg checkout> python tools/parity/record_resclip.py OFFICIAL_REPO OUT.pt

OFFICIAL_REPO: a checkout of github.com/yvhangyang/ResCLIP (commit 0e085f7). Its own model
code runs (clip/model.py, resclip_segmentor.py, pamr.py); only its CUDA placements are
made CPU ones (``Tensor.cuda`` returns the tensor; the PAMR the refinement builds stays on
the CPU). The weights and inputs are tools/parity/tiny12_clip.py's (seeded, rounded to fp16 as the
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
#: ResCLIP's VOC21 settings (configs/cfg_voc21.py; the thresholds raised to split the tiny
#: model's probabilities) and defaults (resclip_segmentor.py:23-26)
SETTINGS = dict(arch='wo_resi', attn_strategy='resclip', gaussian_std=5.0, prob_thd=0.2,
                logit_scale=40, temp_thd=0.25, delete_same_entity=True,
                attn_rcs_weights=[2.0, 0.3], attn_sfr_weights=[2.2, 0.7])
WINDOWS = {'square': (128, 128), 'wide': (96, 160), 'small': (64, 80)}
SLIDE = dict(crop=112, stride=56, sizes=[(144, 192), (176, 128)], ori=[(180, 240), (220, 160)])
WHOLE = dict(sizes=[(100, 150), (130, 96)], ori=[(125, 187), (162, 120)])



def main(repo, out):
    from tools.parity.tiny12_clip import SUB, make_image, normalise, openai_state_dict
    sys.path.insert(0, repo)
    os.chdir(repo)
    torch.Tensor.cuda = lambda self, *a, **k: self      # the official code's .cuda()
    import clip.model as official_model
    import resclip_segmentor
    from mmseg.structures import SegDataSample

    class CPUPAMR(official_model.PAMR):
        def to(self, *args, **kwargs):   # PAMR(...).to(torch.device('cuda')) in the SFR
            return self
    official_model.PAMR = CPUPAMR
    # one template (the 80 ImageNet ones average a random text tower's classes together)
    resclip_segmentor.openai_imagenet_template = [lambda c: f'{c}']

    state, digest = openai_state_dict()
    tmp = tempfile.mkdtemp()
    weights, names = os.path.join(tmp, 'tiny.pt'), os.path.join(tmp, 'names.txt')
    torch.save(state, weights)
    with open(names, 'w') as f:
        f.write('\n'.join(NAMES))
    torch.set_grad_enabled(False)

    def build(**kw):
        return resclip_segmentor.ResCLIPSegmentation(
            clip_path=weights, name_path=names, device=torch.device('cpu'),
            **dict(SETTINGS, **kw)).eval()

    model = build()
    rec = dict(text=model.query_features.clone(), weights_abs_sum=digest,
               settings=dict(SETTINGS, names=list(NAMES)), windows={}, sub=[3, 8, 5, 8])
    for i, (name, (h, w)) in enumerate(WINDOWS.items()):
        x = normalise(make_image(100 + i, h, w))[None]
        logits = model.forward_feature(x)
        rec['windows'][name] = logits[0][:, SUB[0], SUB[1]].clone()
        print(name, tuple(logits.shape), 'max prob < prob_thd:',
              float((torch.softmax(logits * 40, 1).max(1)[0] < SETTINGS['prob_thd'])
                    .float().mean()))

    def predict(model, sizes, oris, seed0):
        logits_out, labels_out, probs_out = [], [], []
        for j, ((h, w), ori) in enumerate(zip(sizes, oris)):
            x = normalise(make_image(seed0 + j, h, w))[None]
            if model.slide_crop > 0:
                logits = model.forward_slide(x, model.slide_stride, model.slide_crop)
            else:
                logits = model.forward_feature(x)
            sample = SegDataSample(metainfo=dict(ori_shape=ori, img_shape=(h, w)))
            result = model.predict(x, [sample])[0]
            pred = result.pred_sem_seg.data[0]
            probs_out.append(result.seg_logits.data[:, SUB[0], SUB[1]].clone())
            logits_out.append(logits[0][:, SUB[0], SUB[1]].clone())
            labels_out.append(pred.to(torch.uint8).clone())
            print('  image', (h, w), '->', ori, 'label counts',
                  torch.bincount(pred.flatten(), minlength=len(NAMES)).tolist())
        return dict(logits=logits_out, labels=labels_out, probs=probs_out)

    slide = build(slide_crop=SLIDE['crop'], slide_stride=SLIDE['stride'])
    rec['slide'] = predict(slide, SLIDE['sizes'], SLIDE['ori'], 200)
    whole = build(slide_crop=0)
    rec['whole'] = predict(whole, WHOLE['sizes'], WHOLE['ori'], 300)
    torch.save(rec, out)
    print('saved', out, os.path.getsize(out), 'bytes')


if __name__ == '__main__':
    main(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
