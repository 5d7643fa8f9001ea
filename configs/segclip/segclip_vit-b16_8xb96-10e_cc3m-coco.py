# SegCLIP pretraining (Luo et al., ICML 2023, arXiv:2211.14813): CLIP ViT-B/16 + semantic group module on CC3M + COCO
# captions (Karpathy train only, one sample per caption, as the official
# dataloader_coco_retrieval.py), 10 epochs, batch 768 (8 GPUs x 96, drop_last), AdamW (0.9,
# 0.98, eps 1e-6, wd 0.05 on every parameter whose name lacks 'bias'), lr 4e-6 (CLIP's
# stage-1 blocks, text tower, logit scale) / 4e-3 (the rest), 15% linear warm-up from 0 +
# cosine to 0 (the official warmup_cosine), grad clip 1.0, seed 42 with cuDNN deterministic.
# Training images shrunk to short side 224 (PIL Lanczos) before the random resized crop
# (PIL bicubic), as the official pre-shrunk images. Every setting against the official code:
# docs/methods/segclip.md, "Recipe against the official code".
# Karpathy restval (+30,504 COCO val2014 images, which overlap COCO-Object's evaluation
# images) is an opt-in: segclip-restval_vit-b16_8xb96-10e_cc3m-coco.py.
# Zero-shot VOC mIoU is evaluated after every epoch (published after 10: 52.6).
#   bash tools/dist_train.sh configs/segclip/segclip_vit-b16_8xb96-10e_cc3m-coco.py 8
# Data (see docs/methods/segclip.md): data/cc3m/train.tsv (columns image, caption; image
# paths relative to data/cc3m) and data/coco (train2014/, val2014/, dataset_coco.json).
_base_ = [
    '../_base_/models/segclip_vit-b16.py', '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='segclip_voc21.txt', background=True, short_side=None, bg_thresh=0.8)
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
    dict(type='ShrinkShortSide', short_side=224),      # the official pre-shrunk images
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
    drop_last=True,                                     # official data_dataloaders.py
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type='ImageTextCSVDataset', data_root='data/cc3m',
                 ann_file='data/cc3m/train.tsv', pipeline=train_pipeline),
            dict(type='COCOCaptionsDataset', ann_file='data/coco/dataset_coco.json',
                 data_prefix=dict(img_path='data/coco'), splits=('train', ),
                 pipeline=train_pipeline),
        ]))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.05),
    constructor='LRGroupsOptimWrapperConstructor',
    # no decay for names containing 'bias' only (official main_task_align.py no_decay):
    # LayerNorm gains, the logit scale, the centers and the mask token are decayed
    paramwise_cfg=dict(group_lrs=dict(low=4e-6, high=4e-3), no_decay_names=('bias', )),
    clip_grad=dict(max_norm=1.0))
max_epochs = 10
# the official warmup_cosine (warm-up 15% from 0, cosine to 0), per iteration
param_scheduler = [
    dict(type='WarmupCosineLR', warmup=0.15, lr_start=0.0, lr_end=0.0, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True),
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
# seed 42 and cuDNN deterministic, as the official launch (main_task_align.py
# set_seed_logger); mmengine's deterministic=True would also force
# torch.use_deterministic_algorithms (stricter than the official, and it stops CUDA
# matmuls without CUBLAS_WORKSPACE_CONFIG), so the two cuDNN flags come from a hook
randomness = dict(seed=42, deterministic=False)
env_cfg = dict(cudnn_benchmark=False)
custom_hooks = [dict(type='CuDNNDeterministicHook')]
# Test-time augmentation (tools/test.py --tta): short side x 0.75, 1, 1.25 of the setting
# above, each with and without a horizontal flip.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale=(2048, round(224 * r)), keep_ratio=True)
              for r in (0.75, 1.0, 1.25)],
             [dict(type='RandomFlip', prob=0., direction='horizontal'),
              dict(type='RandomFlip', prob=1., direction='horizontal')],
             [dict(type='LoadAnnotations')],
             [dict(type='PackSegInputs')],
         ]),
]
