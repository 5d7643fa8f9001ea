# ProxyCLIP (training-free): OpenAI CLIP ViT-B/16 + DINO ViT-B/8 through proxy attention
# (beta 1.2, gamma 3.0, logit scale 40), sliding windows 336/112 padded to multiples of 56,
# the 80 OpenAI ImageNet templates, fp16 on CUDA. See docs/methods/proxyclip.md.
# The preprocessor gives RGB pixels in [0, 255]; each tower normalises them itself: CLIP
# with clip.mean / clip.std (the official preprocessor's rounded OpenAI statistics), the
# VFM with its weights' (ImageNet's).
model = dict(
    type='ProxyCLIPSegmentor',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    clip=dict(arch='ViT-B-16', pretrained='openai', mean=[122.771, 116.746, 104.094],
              std=[68.501, 66.632, 70.323]),
    vfm=dict(type='TimmVFM', name='dino-b8', pretrained=True),
    attention='proxy',
    beta=1.2,
    gamma=3.0,
    logit_scale=40.0,
    prob_thd=0.0,
    slide_crop=336,
    slide_stride=112,
    pad_multiple=56,
    window_batch_size='auto',
    templates='openai_imagenet',
    precision='fp16',
    class_names='cls_voc21.txt')
# The checkpoints carry the model's own classes and palette (from its vocabulary) in
# meta.dataset_meta, for mmseg's init_model / MMSegInferencer (langseg.engine.DatasetMetaHook).
default_hooks = dict(dataset_meta=dict(type='DatasetMetaHook'))
