# Template: ProxyCLIP (training-free) on your own folder (configs/_base_/datasets/folder.py):
# the classes are the lines of classes.txt (synonyms with ";", class 0 may be a line of
# background words). Short side 336, windows 336 / 112, as the VOC/Context configs.
#   python tools/test.py configs/folder/proxyclip_vit-b16-dino-b8_folder.py
# Copy it and set `data_root` to your folder (or pass --cfg-options
# train_dataloader.dataset.data_root=DIR val_dataloader.dataset.data_root=DIR
# test_dataloader.dataset.data_root=DIR model.class_names=DIR/classes.txt).
_base_ = ['../_base_/models/proxyclip_vit-b16_dino-b8.py', '../_base_/datasets/folder.py',
          '../_base_/default_runtime.py']
data_root = 'data/my_data'
model = dict(class_names=data_root + '/classes.txt', slide_crop=336, slide_stride=112)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
val_dataloader = test_dataloader
train_dataloader = None   # training-free
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Test-time augmentation (tools/test.py --tta): short side x 0.75, 1, 1.25 of the setting
# above, each with and without a horizontal flip.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale=(2048, round(336 * r)), keep_ratio=True)
              for r in (0.75, 1.0, 1.25)],
             [dict(type='RandomFlip', prob=0., direction='horizontal'),
              dict(type='RandomFlip', prob=1., direction='horizontal')],
             [dict(type='LoadAnnotations')],
             [dict(type='PackSegInputs')],
         ]),
]
