# UperNet on ImageNet Swin-T, ADE20K, mmseg's Swin recipe (8 GPUs x 2 images, 160k).
# Conv-Former paper Table 2: 44.5 mIoU (mmseg reports 44.41).
_base_ = [
    '../_base_/models/upernet_swin.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_160k_adamw_swin.py'
]
crop_size = (512, 512)
model = dict(data_preprocessor=dict(size=crop_size))
train_dataloader = dict(batch_size=2)
