# SegCLIP pretraining with COCO Karpathy train + restval (opt-in, not the official data).
# The official SegCLIP pretraining uses Karpathy `train` only (82,783 images); `restval`
# adds 30,504 images from COCO val2014, which overlaps the val2017 images COCO-Object and
# COCO-Stuff evaluate on (COCOCaptionsDataset warns). Numbers from this config are not
# comparable with the published ones.
_base_ = './segclip_vit-b16_8xb96-10e_cc3m-coco.py'
train_dataloader = dict(dataset=dict(datasets=[
    dict(type='ImageTextCSVDataset', data_root='data/cc3m', ann_file='data/cc3m/train.tsv',
         pipeline={{_base_.train_pipeline}}),
    dict(type='COCOCaptionsDataset', ann_file='data/coco/dataset_coco.json',
         data_prefix=dict(img_path='data/coco'), splits=('train', 'restval'),
         pipeline={{_base_.train_pipeline}}),
]))
