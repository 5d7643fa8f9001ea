# SegCLIP zero-shot on context60: Context 24.7 mIoU (paper 002, Table 4).
# Evaluate a pretraining checkpoint:
#   python tools/test.py configs/segclip/segclip_vit-b16_context60.py work_dirs/segclip_vit-b16_8xb96-10e_cc3m-coco/epoch_10.pth
# Without a checkpoint it evaluates the CLIP-initialised model before pretraining.
# The model resizes to short side 224 and slides 224 windows, stride 224 (reference).
_base_ = [
    '../_base_/models/segclip_vit-b16.py', '../_base_/datasets/ov_context60.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names='context60.txt', background=True, bg_thresh=0.25)
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
