# GLA-CLIP (training-free, Lee et al., CVPR 2026, arXiv:2603.23030): OpenAI CLIP ViT-B/16 +
# DINO ViT-B/8, ProxyCLIP's towers with GLA-CLIP's attention across all windows of an image
# (key-value extension, proxy anchors, dynamic normalisation). See docs/methods/glaclip.md.
# Settings of the official code (github.com/2btlFe/GLA-CLIP at ba74915), as predict.sh runs
# eval.py (--CLIP_type ProxyCLIP --token_norm --KV_token_extension --proxy_sim
# --dynamic_beta --dynamic_gamma):
model = dict(
    type='GLACLIPSegmentor',
    data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255),
    # gla_clip_segmentor.py:47-48 (the preprocessor's rounded OpenAI statistics)
    clip=dict(arch='ViT-B-16', pretrained='openai', mean=[122.771, 116.746, 104.094],
              std=[68.501, 66.632, 70.323]),
    vfm=dict(type='TimmVFM', name='dino-b8', pretrained=True),  # gla_clip_segmentor.py:92
    proxy_threshold=0.6,     # predict.sh:2 initial_crit_pos
    proxy_iters=2,           # predict.sh:3 mini_iters
    beta_alpha=0.3,          # predict.sh:5 (--dynamic_beta)
    gamma_alpha=30.0,        # predict.sh:6 (--dynamic_gamma)
    beta=1.2, gamma=3.0,     # cfg.py:18-19 (static values; unused with both dynamic)
    cut=0.0,                 # cfg.py:64 cutting_hp
    temperature=1.0,         # cfg.py:63
    logit_scale=40.0,        # cfg.py:24
    prob_thd=0.0,            # cfg.py:22 (the benchmarks set their own)
    slide_crop=224,          # cfg.py:39
    slide_stride=112,        # cfg.py:38
    pad_multiple=56,         # gla_clip_segmentor.py:239
    window_batch_size='auto',
    templates='openai_imagenet',  # gla_clip_segmentor.py:115
    precision='fp16',        # the official towers run in fp16
    class_names='cls_voc21.txt')
# The checkpoints carry the model's own classes and palette (from its vocabulary) in
# meta.dataset_meta, for mmseg's init_model / MMSegInferencer (langseg.engine.DatasetMetaHook).
default_hooks = dict(dataset_meta=dict(type='DatasetMetaHook'))
