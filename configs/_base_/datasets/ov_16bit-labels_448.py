# Shared part of the open-vocabulary benchmarks with 16-bit label maps (ADE20K-847, Pascal
# Context-459; the official ProxyCLIP configs/cfg_ade847.py and cfg_context459.py): short
# side 448 (ground truth kept at its native size), batch 1, TIFF labels read by
# LoadAnnotations16, 65535 = unlabelled. The benchmark files (ov_ade847.py,
# ov_context459.py) add the dataset type, root and folders, and the pipelines (their label
# loader names the benchmark's number of classes).
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_dataloader = test_dataloader
# 65535 = unlabelled (the official evaluator keeps mmseg's default 255, which drops class
# 255 and scores unlabelled pixels: a defect, see docs/methods/proxyclip.md).
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=65535)
val_evaluator = test_evaluator
