# SCLIP (training-free): OpenAI CLIP ViT-B/16 whose last block uses correlative
# self-attention (q-q + k-k), residual and MLP kept; sliding windows 224/112 without
# padding, the 80 OpenAI ImageNet templates, fp16 on CUDA. See docs/methods/sclip.md.
# The official settings (github.com/wangf3014/SCLIP): clip_segmentor.py:19-21 (defaults:
# logit scale 40, prob_thd 0, windows 224/112, PAMR off, area_thd off), :23-26 (the
# preprocessor: OpenAI's rounded statistics, RGB), configs/base_config.py:4 (ViT-B/16).
# The preprocessor gives RGB pixels in [0, 255]; CLIP normalises them itself (clip.mean /
# clip.std); vocabulary files separate synonyms by ', ' (clip_segmentor.py get_cls_idx).
model = dict(
    type='SCLIPSegmentor',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    clip=dict(arch='ViT-B-16', pretrained='openai', mean=[122.771, 116.746, 104.094],
              std=[68.501, 66.632, 70.323]),
    logit_scale=40.0,
    prob_thd=0.0,
    area_thd=None,
    slide_crop=224,
    slide_stride=112,
    pad_multiple=0,
    window_batch_size='auto',
    templates='openai_imagenet',
    synonym_separator=',',
    precision='fp16')
# The checkpoints carry the model's own classes and palette (langseg.engine.DatasetMetaHook).
default_hooks = dict(dataset_meta=dict(type='DatasetMetaHook'))
