# SegCLIP on the toy image-text set, CPU: a 4-layer ViT (width 64, patch 8, 64 px) and a
# 2-layer text tower, random weights, pretrained on toy captions ("a red circle above a
# blue square") with all three losses; zero-shot mIoU on the toy validation split.
#   python tools/train.py configs/toy/segclip_tiny-vit_1xb32-400_toy-image-text.py
_base_ = ['../_base_/models/segclip-pretrain_vit-b16.py', '../_base_/default_runtime.py']
tiny = dict(_delete_=True, embed_dim=64,
            vision_cfg=dict(image_size=64, layers=4, width=64, patch_size=8, head_width=16),
            text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=4, layers=2))
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(arch=tiny, pretrained=None, plug_layer=2, num_centers=8),
    decoder=dict(decoder_dim=64, decoder_depth=1, decoder_heads=4, encoder_depth=1),
    # the prompt has the form of the toy captions ("a red circle above a blue square"):
    # a text tower trained from scratch on them has never seen "a photo of a ..."
    class_names='toy', background=True, bg_thresh=0.8, top_k=3, similarity_scale=None,
    templates='a {}',
    slide_crop=64, slide_stride=64, short_side=64)
data_root = 'data/toy_shapes'
toy_generate = dict(num_train=3000, num_val=200, size=96, seed=0)
train_pipeline = [
    dict(type='LoadImageTextImage'),
    # each image is seen ~4 times: its superpixels are computed once and cached
    dict(type='FelzenszwalbSuperpixels', scale=224, sigma=0.9, min_size=50, short_side=96,
         cache_dir=data_root + '/superpixel_cache'),
    dict(type='RandomResizedCropWithSuperpixels', size=64, scale=(0.5, 1.0)),
    dict(type='SuperpixelPatchLabels', patch_size=8),
    dict(type='CLIPTokenize', context_length=32),
    dict(type='PackImageTextInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='ToyImageTextDataset', data_root=data_root, generate=toy_generate,
                 data_prefix=dict(img_path=''), pipeline=train_pipeline))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ToyShapesDataset', data_root=data_root, generate=toy_generate,
                 data_prefix=dict(img_path='images/validation',
                                  seg_map_path='annotations/validation'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.05),
    constructor='LRGroupsOptimWrapperConstructor',
    paramwise_cfg=dict(group_lrs=dict(low=1e-3, high=1e-3)),   # random init: one rate
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=90),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=90, end=400),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=400, val_interval=400)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=400),
    sampler_seed=dict(type='DistSamplerSeedHook'))
randomness = dict(seed=0)
# Test-time augmentation (tools/test.py --tta): the image as it is and flipped.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='RandomFlip', prob=0., direction='horizontal'),
              dict(type='RandomFlip', prob=1., direction='horizontal')],
             [dict(type='LoadAnnotations')],
             [dict(type='PackSegInputs')],
         ]),
]
