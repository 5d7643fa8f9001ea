# ClearCLIP (training-free): OpenAI CLIP ViT-B/16 whose last block is reduced to a q-q
# self-attention without residual and feed-forward network; sliding windows 448/224
# padded to a multiple of the patch size (16) with CLIP's mean colour, logit scale 50,
# the 80 OpenAI ImageNet templates, fp16 on CUDA. See docs/methods/clearclip.md.
# The official settings (github.com/mc-lan/ClearCLIP): clearclip_segmentor.py:22-23
# (defaults: ignore_residual, prob_thd 0, logit scale 50, windows 448/224), :24-27 (the
# preprocessor: OpenAI's rounded statistics, RGB), :168-171 (padding to the patch size),
# demo.py:28 (model_type='ClearCLIP'; configs/base_config.py:6 names 'vanilla', a
# baseline of the repository, see the docs page), configs/base_config.py:4-5 (CLIP B/16).
model = dict(
    type='ClearCLIPSegmentor',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    clip=dict(arch='ViT-B-16', pretrained='openai', mean=[122.771, 116.746, 104.094],
              std=[68.501, 66.632, 70.323]),
    attention='q-q',
    residual=False,
    logit_scale=50.0,
    prob_thd=0.0,
    slide_crop=448,
    slide_stride=224,
    pad_multiple=16,
    window_batch_size='auto',
    templates='openai_imagenet',
    synonym_separator=',',
    precision='fp16')
# The checkpoints carry the model's own classes and palette (langseg.engine.DatasetMetaHook).
default_hooks = dict(dataset_meta=dict(type='DatasetMetaHook'))
