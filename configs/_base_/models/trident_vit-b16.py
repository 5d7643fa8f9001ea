# Trident (training-free, Shi, Dong and Xu, ICCV 2025, arXiv:2411.09219): OpenAI CLIP
# ViT-B/16 + DINO ViT-B/16 on sub-images (ProxyCLIP's proxy attention with one mean per
# image), spliced onto the image's grid, aggregated by SAM ViT-B's last global attention.
# See docs/methods/trident.md. Settings of the official code (github.com/YuHengsss/Trident
# at a93b346) as eval.py --sam_refine runs it (dist_test.sh:3: the published numbers), with
# the prompt-based SAM refinement of the label map (seg_utils/utils.py:92-197). It needs the
# official SAM ViT-B checkpoint as a local file (its prompt encoder and mask decoder; timm
# has the image encoder only): download sam_vit_b_01ec64.pth from
# github.com/facebookresearch/segment-anything to checkpoints/, or set
# model.sam_decoder.pretrained; model.sam_refinement=False is the official path without it.
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
    sam_refinement=True,     # eval.py:30, :63 (--sam_refine), dist_test.sh:3
    sam_decoder=dict(type='SamPromptDecoder',                      # base_config.py:2, :16
                     pretrained='checkpoints/sam_vit_b_01ec64.pth'),
    coarse_thresh=0.2,       # base_config.py:18 (the benchmarks set their own)
    minimal_area=225,        # base_config.py:19
    sam_mask_coff=0.005,     # trident.py:33
    sam_iou_thresh=0.8,      # base_config.py:17 (trident.py:93 defaults to 0.9)
    logit_scale=40.0,        # trident.py:30
    prob_thd=0.0,            # trident.py:30 (the benchmarks set their own)
    window_batch_size='auto',
    templates='openai_imagenet',  # trident.py:66
    precision='fp16',        # the official towers run in fp16
    class_names='cls_voc21.txt')
default_hooks = dict(dataset_meta=dict(type='DatasetMetaHook'))
