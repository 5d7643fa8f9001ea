# Ablation (Jin & Yang, arXiv:2310.07394, Fig. 3): both bridges' cross attention replaced by an inner
# product (softmax removed; see docs/methods/convformer.md).
_base_ = './convformer_mobilenetv2_8xb4-80k_ade20k-512x512.py'
model = dict(fusion=dict(bridge='inner_product'))
