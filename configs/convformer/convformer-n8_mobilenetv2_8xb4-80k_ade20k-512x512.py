# Ablation (Jin & Yang, arXiv:2310.07394, Fig. 4): 8 stacked Conv-Former blocks on MobileNetV2 (6 is the
# paper's default and best).
_base_ = './convformer_mobilenetv2_8xb4-80k_ade20k-512x512.py'
model = dict(fusion=dict(num_blocks=8))
