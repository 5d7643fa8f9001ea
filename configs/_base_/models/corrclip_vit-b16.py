# CorrCLIP (training-free; Zhang, Liu and Tang, ICCV 2025, arXiv:2411.10086): MetaCLIP
# ViT-B/16 (quick GELU) + DINO ViT-B/8 + region masks; see docs/methods/corrclip.md.
# Official settings (github.com/zdk258/CorrCLIP @103bc18, CorrCLIPv1/):
#   clip: configs/base_config.py:4-5 ('metaclip_fullcc', 'ViT-B-16-quickgelu');
#   vfm: configs/base_config.py:6 ('dino_vitb8');
#   masks: configs/base_config.py:7 (mask_generator=None: the pre-generated SAM2 masks of
#     configs/cfg_*.py's instance_mask_path, corrclip_segmentor.py:278-281);
#   logit_scale 40, slide 336/112, prob_thd 0: corrclip_segmentor.py:47 defaults;
#   windows padded to a multiple of 56: corrclip_segmentor.py:156;
#   CLIP normalisation (rounded OpenAI statistics): corrclip_segmentor.py:49-52;
#   tau 4, DBSCAN eps 0.2, branch weights 1.0 / 0.5: open_clip/transformer.py:528,538-539;
#   the 80 OpenAI ImageNet templates: corrclip_segmentor.py:244.
model = dict(
    type='CorrCLIPSegmentor',
    data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255),
    clip=dict(arch='ViT-B-16-quickgelu', pretrained='metaclip_fullcc',
              mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323]),
    vfm=dict(type='TimmVFM', name='dino-b8', pretrained=True),
    mask_generator=dict(type='PrecomputedMaskGenerator', folder='data/region_masks/voc'),
    tau=4.0,
    merge_eps=0.2,
    spatial_weight=1.0,
    semantic_weight=0.5,
    map_correction=True,
    logit_scale=40.0,
    prob_thd=0.0,
    slide_crop=336,
    slide_stride=112,
    pad_multiple=56,
    window_batch_size='auto',
    templates='openai_imagenet',
    precision='fp16',
    class_names='corrclip_voc21.txt')
default_hooks = dict(dataset_meta=dict(type='DatasetMetaHook'))
# Protocol card, shared part (tools/reproduce.py); each benchmark config adds its dataset
# and published mIoU (CorrCLIP README results table, row "SAM2_32", ViT-B).
protocol = dict(
    source='Zhang, Liu and Tang, ICCV 2025 (arXiv:2411.10086); CorrCLIP README, SAM2_32 ViT-B',
    tolerance=1.0,           # mIoU points a faithful reproduction should land within
    needs_checkpoint=False,
    weights={'clip': "open_clip ViT-B-16-quickgelu 'metaclip_fullcc'",
             'vfm': 'timm vit_base_patch8_224.dino',
             'masks': 'the official pre-generated SAM2 region masks (region_masks.zip, '
                      'huggingface.co/datasets/dk258/CorrCLIP) in data/region_masks/'},
    notes='single-scale, whole test set, the settings of the config; other mask '
          'generators: docs/methods/corrclip.md')
