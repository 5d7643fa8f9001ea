# ResCLIP on NACLIP (training-free): OpenAI CLIP ViT-B/16; RCS (the mean q-k attention of
# blocks 6-9) and SFR (a first segmentation fed back as an attention prior) on NACLIP's
# last block (k-k attention + Gaussian neighbourhood std 5, no residual, no MLP); sliding
# windows 224/112 without padding, the 80 OpenAI ImageNet templates, fp16 on CUDA.
# See docs/methods/resclip.md. The official settings (github.com/yvhangyang/ResCLIP):
# resclip_segmentor.py:23-26 (defaults: logit scale 40, prob_thd 0, windows 224/112, PAMR
# off, area_thd off), :28 (the preprocessor: OpenAI's rounded statistics, RGB),
# test_all.sh + README.md:103 (arch wo_resi, attention resclip, gaussian_std 5),
# clip/model.py:328 (RCS blocks 5-8), :279 (SFR's PAMR 10 x (8, 16)),
# configs/base_config.py:4-6 (ViT-B/16, RCS and SFR on); the per-benchmark temp_thd and
# (tau, lambda) pairs are in each benchmark config.
# The preprocessor gives RGB pixels in [0, 255]; CLIP normalises them itself (clip.mean /
# clip.std); vocabulary files separate synonyms by ', ' (resclip_segmentor.py get_cls_idx).
model = dict(
    type='ResCLIPSegmentor',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    clip=dict(arch='ViT-B-16', pretrained='openai', mean=[122.771, 116.746, 104.094],
              std=[68.501, 66.632, 70.323]),
    logit_scale=40.0,
    prob_thd=0.0,
    slide_crop=224,
    slide_stride=112,
    pad_multiple=0,
    window_batch_size='auto',
    templates='openai_imagenet',
    synonym_separator=',',
    gaussian_std=5.0,
    rcs_layers=(5, 6, 7, 8),
    delete_same_entity=True,
    sfr_pamr=True,
    precision='fp16')
# The checkpoints carry the model's own classes and palette (langseg.engine.DatasetMetaHook).
default_hooks = dict(dataset_meta=dict(type='DatasetMetaHook'))
