# SC-CLIP (training-free): OpenAI CLIP ViT-B/16, self-calibrated: the penultimate block's
# anomaly tokens resolved, similarity-guided aggregation and last attention (block outputs
# 9 and 4), multi-level fusion of block outputs 4-10, the class token added with 0.3;
# sliding windows 224/112 without padding, the 80 OpenAI ImageNet templates, fp16 on CUDA.
# See docs/methods/scclip.md. The official settings (github.com/SuleBai/SC-CLIP):
# scclip_segmentor.py:19-22 (defaults: logit scale 40, prob_thd 0, windows 224/112, PAMR
# off, area_thd off, pre/post adjust 8/3, multi-level 3-10, res_cls 0.3), :24-27 (the
# preprocessor: OpenAI's rounded statistics, RGB), configs/base_config.py:1-9 (ViT-B/16
# and the same indices), clip/model.py:247 (beta 0.4), :274 (30 neighbours, 5 %).
# The preprocessor gives RGB pixels in [0, 255]; CLIP normalises them itself (clip.mean /
# clip.std); vocabulary files separate synonyms by ', ' (scclip_segmentor.py get_cls_idx).
model = dict(
    type='SCCLIPSegmentor',
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
    pre_adjust_idx=8,
    post_adjust_idx=3,
    multi_start_idx=3,
    multi_end_idx=10,
    res_cls=0.3,
    precision='fp16')
# The checkpoints carry the model's own classes and palette (langseg.engine.DatasetMetaHook).
default_hooks = dict(dataset_meta=dict(type='DatasetMetaHook'))
