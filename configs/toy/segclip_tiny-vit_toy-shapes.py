# SegCLIP zero-shot on the toy shapes, CPU: the tiny model of
# segclip_tiny-vit_1xb32-400_toy-image-text.py as the training-free zero-shot segmentor,
# which evaluates that config's pretraining checkpoints by the checkpoint rule
# (segmentor.* -> *, reconstruction.* dropped; docs/methods/segclip.md):
#   python tools/test.py configs/toy/segclip_tiny-vit_toy-shapes.py \
#       work_dirs/segclip_tiny-vit_1xb32-400_toy-image-text/iter_400.pth
_base_ = ['../_base_/models/segclip_vit-b16.py', '../_base_/datasets/toy_shapes.py',
          '../_base_/default_runtime.py']
tiny = dict(_delete_=True, embed_dim=64,
            vision_cfg=dict(image_size=64, layers=4, width=64, patch_size=8, head_width=16),
            text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=4, layers=2))
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(arch=tiny, pretrained=None, plug_layer=2, num_centers=8),
    class_names='toy', background=True, bg_thresh=0.8, top_k=3, similarity_scale=None,
    templates='a {}',
    slide_crop=64, slide_stride=64, short_side=64)
# evaluation as every toy config (_base_/datasets/toy_shapes.py: validation split, TTA);
# no training part: the zero-shot segmentor is training-free
train_dataloader = None
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
