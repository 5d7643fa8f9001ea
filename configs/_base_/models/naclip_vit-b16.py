# NACLIP (training-free): OpenAI CLIP ViT-B/16 whose last block is reduced (no residual,
# no feed-forward network) and attends by key-key similarity plus a Gaussian
# neighbourhood (std 5 patches); sliding windows 224/112 without padding, PAMR
# (10 iterations, dilations 8 and 16), logit scale 40, the 80 OpenAI ImageNet templates,
# fp16 on CUDA. See docs/methods/naclip.md.
# The official settings (github.com/sinahmr/NACLIP): naclip.py:20-22 (defaults: arch
# 'reduced', attn_strategy 'naclip', gaussian_std 5, pamr_steps 10, pamr_stride (8, 16),
# prob_thd 0, logit scale 40, windows 224/112), :24 (the preprocessor: OpenAI's rounded
# statistics, RGB), configs/base_config.py:4 (ViT-B/16); README "bash test_all.sh reduced
# naclip 5 on" (the main results: PAMR on).
model = dict(
    type='NACLIPSegmentor',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    clip=dict(arch='ViT-B-16', pretrained='openai', mean=[122.771, 116.746, 104.094],
              std=[68.501, 66.632, 70.323]),
    arch='reduced',
    attention='naclip',
    gaussian_std=5.0,
    pamr=dict(num_iter=10, dilations=(8, 16)),
    logit_scale=40.0,
    prob_thd=0.0,
    slide_crop=224,
    slide_stride=112,
    pad_multiple=0,
    window_batch_size='auto',
    templates='openai_imagenet',
    synonym_separator=',',
    precision='fp16')
# The checkpoints carry the model's own classes and palette (langseg.engine.DatasetMetaHook).
default_hooks = dict(dataset_meta=dict(type='DatasetMetaHook'))
