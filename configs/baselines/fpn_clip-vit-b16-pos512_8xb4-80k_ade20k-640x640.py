# The CLIP ViT-B/16 Semantic FPN of the DenseCLIP README's GFLOPs/params table: the
# training config (fpn_clip-vit-b16_8xb4-80k_ade20k-640x640.py, positional grid for 640 px,
# as the official run) with the positional embedding stored for 512 px (32x32 grid), which
# is what the published 100.8 M params count (+0.44 M for the 40x40 grid of 640 px).
# Use it for tools/get_flops.py; train the 640 config.
_base_ = './fpn_clip-vit-b16_8xb4-80k_ade20k-640x640.py'
model = dict(backbone=dict(input_resolution=512))
