# DenseCLIP's recipe: AdamW 1e-4 (wd 1e-4), backbone lr x 0.1, text encoder lr x 0,
# no decay on 'norm' parameters, poly (0.9) to 1e-6 over the 80k iterations with a
# 1500-iteration linear warm-up (ratio 1e-6) multiplying it: mmcv 1.x's curve, as the
# official lr_config (policy='poly', warmup='linear'); the poly does not restart at 1500.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=0.1),
        'text_encoder': dict(lr_mult=0.0),
        'norm': dict(decay_mult=0.0),
    }))
param_scheduler = [
    dict(type='PolyLRWithWarmup', power=0.9, eta_min=1e-6, warmup_iters=1500,
         warmup_ratio=1e-6, by_epoch=False, begin=0, end=80000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
