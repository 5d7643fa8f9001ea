# Trident (training-free, Shi, Dong and Xu, ICCV 2025, arXiv:2411.09219): OpenAI CLIP
# ViT-B/16 + DINO ViT-B/16 on sub-images (ProxyCLIP's proxy attention with one mean per
# image), spliced onto the image's grid, aggregated by SAM ViT-B's last global attention.
# See docs/methods/trident.md. Settings of the official code (github.com/YuHengsss/Trident
# at a93b346) as eval.py runs it WITHOUT --sam_refine (the prompt-based SAM refinement of
# the published numbers is not implemented; docs/methods/trident.md):
model = dict(
    type='TridentSegmentor',
    data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255),
    # base_config.py:7-8; trident.py:36-37 (the preprocessor's rounded OpenAI statistics)
    clip=dict(arch='ViT-B-16', pretrained='openai', mean=[122.771, 116.746, 104.094],
              std=[68.501, 66.632, 70.323]),
    vfm=dict(type='TimmVFM', name='dino-b16', pretrained=True),   # trident.py:48
    sam=dict(type='TimmVFM', name='sam-b', pretrained=True),      # base_config.py:16
    beta=1.2,                # base_config.py:11
    gamma=3.0,               # trident.py:30
    cos_fac=1.2,             # base_config.py:12
    refine_neg_cos=True,     # base_config.py:13
    sam_split=1,             # trident.py:141 (Cityscapes: 2)
    sam_size=1024,           # segment-anything's ResizeLongestSide(1024)
    slide_crop=336,          # base_config.py:15
    slide_stride=224,        # base_config.py:14
    logit_scale=40.0,        # trident.py:30
    prob_thd=0.0,            # trident.py:30 (the benchmarks set their own)
    window_batch_size='auto',
    templates='openai_imagenet',  # trident.py:66
    precision='fp16',        # the official towers run in fp16
    class_names='cls_voc21.txt')
default_hooks = dict(dataset_meta=dict(type='DatasetMetaHook'))
