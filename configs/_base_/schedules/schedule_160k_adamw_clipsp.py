# CLIP-SP's recipe (Li et al., CVM 2024, doi:10.1007/s41095-024-0430-4, Sec. 4.1): DenseCLIP's AdamW schedule (lr 1e-4, wd 1e-4,
# image encoder lr x 0.1, frozen text encoder, no decay on norms, 1500 warm-up iterations,
# poly 0.9, mmcv 1.x curve) over 160k iterations; batch 16 on 4 GPUs; batch drop as a
# hook. SyncBN is set by the model configs (norm_cfg of the backbone, neck and head).
_base_ = './schedule_80k_adamw_denseclip.py'
param_scheduler = [
    dict(type='PolyLRWithWarmup', power=0.9, eta_min=1e-6, warmup_iters=1500,
         warmup_ratio=1e-6, by_epoch=False, begin=0, end=160000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=16000))
custom_hooks = [dict(type='BatchDropHook', r_start=0.9, r_end=0.1, decay=0.9999)]
