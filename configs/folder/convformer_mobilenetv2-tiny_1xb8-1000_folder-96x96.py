# Template: Conv-Former (the toy config's model and schedule) trained on your own folder of
# images + masks + classes.txt (FolderSegDataset; docs/getting_started.md, "Your own
# data"). The class names and their number come from classes.txt: model.class_names is the
# file and decode_head.num_classes=None takes the count from it.
#   python tools/train.py configs/folder/convformer_mobilenetv2-tiny_1xb8-1000_folder-96x96.py
# Copy it and set `data_root` to your folder.
_base_ = '../toy/convformer_mobilenetv2-tiny_1xb8-1000_toy-96x96.py'
data_root = 'data/my_data'
crop_size = (96, 96)
model = dict(class_names=data_root + '/classes.txt', decode_head=dict(num_classes=None))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(96, 96), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                 dict(type='PackSegInputs')]
train_dataloader = dict(
    batch_size=8,
    dataset=dict(_delete_=True, type='FolderSegDataset', data_root=data_root,
                 split='train', pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='FolderSegDataset', data_root=data_root, split='val',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
