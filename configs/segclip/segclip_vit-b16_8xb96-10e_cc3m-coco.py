# SegCLIP pretraining (Luo et al., ICML 2023, arXiv:2211.14813): CLIP ViT-B/16 + semantic group module on CC3M + COCO
# captions (Karpathy train + restval, one sample per caption), 10 epochs, batch 768
# (8 GPUs x 96), AdamW (0.9, 0.98, eps 1e-6, wd 0.05), lr 4e-6 (CLIP's stage-1 blocks, text
# tower, logit scale) / 4e-3 (the rest), 15% linear warmup + cosine, grad clip 1.0.
# Zero-shot VOC mIoU is evaluated after every epoch (published after 10: 52.6).
#   bash tools/dist_train.sh configs/segclip/segclip_vit-b16_8xb96-10e_cc3m-coco.py 8
# Data (see docs/methods/segclip.md): data/cc3m/train.tsv (columns image, caption; image
# paths relative to data/cc3m) and data/coco (train2014/, val2014/, dataset_coco.json).
_base_ = [
    '../_base_/models/segclip_vit-b16.py', '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='rich_voc21.txt', background=True, short_side=None, bg_thresh=0.8)
# zero-shot validation as the official evaluation: short side 224 in the pipeline
val_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 224), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
superpixel_cache = 'data/superpixel_cache'
train_pipeline = [
    dict(type='LoadImageTextImage'),
    dict(type='FelzenszwalbSuperpixels', scale=224, sigma=0.9, min_size=224, short_side=224,
         cache_dir=superpixel_cache),
    dict(type='RandomResizedCropWithSuperpixels', size=224, scale=(0.5, 1.0)),
    dict(type='SuperpixelPatchLabels', patch_size=16),
    dict(type='CLIPTokenize', context_length=32),
    dict(type='PackImageTextInputs'),
]
train_dataloader = dict(
    batch_size=96,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type='ImageTextCSVDataset', data_root='data/cc3m',
                 ann_file='data/cc3m/train.tsv', pipeline=train_pipeline),
            dict(type='COCOCaptionsDataset', ann_file='data/coco/dataset_coco.json',
                 data_prefix=dict(img_path='data/coco'), splits=('train', 'restval'),
                 pipeline=train_pipeline),
        ]))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.05),
    constructor='LRGroupsOptimWrapperConstructor',
    paramwise_cfg=dict(group_lrs=dict(low=4e-6, high=4e-3)),
    clip_grad=dict(max_norm=1.0))
max_epochs = 10
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1.5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=1.5, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=True)
auto_scale_lr = dict(enable=False, base_batch_size=768)
