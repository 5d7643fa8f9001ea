# CorrCLIP on voc21 with its region masks made on the fly by SAM ViT-B's automatic mask
# generator (SamMaskGenerator: langseg/models/backbones/sam_mask_generator.py), instead of
# the official pre-generated SAM2 masks of corrclip_vit-b16_voc21.py.
# Generator arguments: the ones CorrCLIP's official code passes to its on-the-fly SAM2
# generator (github.com/zdk258/CorrCLIP @103bc18, CorrCLIPv1/corrclip_segmentor.py:266-272:
# points_per_side=8, pred_iou_thresh=0.4, stability_score_thresh=0.4,
# multimask_output=False); the rest SAM's defaults (automatic_mask_generator.py:36-52).
# Weights: SAM ViT-B's image encoder by timm tag (samvit_base_patch16.sa1b), its prompt
# encoder and mask decoder from a local copy of the official sam_vit_b_01ec64.pth.
# Cost (docs/methods/corrclip.md): SAM runs once per image at 1024 px.
_base_ = './corrclip_vit-b16_voc21.py'
model = dict(
    mask_generator=dict(
        _delete_=True, type='SamMaskGenerator',
        encoder=dict(type='TimmVFM', name='sam-b', pretrained=True),
        decoder=dict(type='SamPromptDecoder',
                     pretrained='checkpoints/sam_vit_b_01ec64.pth'),
        points_per_side=8, points_per_batch=64, pred_iou_thresh=0.4,
        stability_score_thresh=0.4, stability_score_offset=1.0, box_nms_thresh=0.7,
        min_mask_region_area=0, multimask_output=False))
protocol = dict(
    published_miou=None,
    source='no published number for SAM ViT-B masks (the README\'s SAM2 rows use SAM2 '
           'Hiera-L: 74.8 with 32 points pre-generated, 73.9 with 8 points)',
    weights={'masks': "SAM ViT-B: timm 'samvit_base_patch16.sa1b' + the official "
                      'sam_vit_b_01ec64.pth (prompt encoder, mask decoder) in checkpoints/'})
