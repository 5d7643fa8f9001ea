# SegCLIP pretraining (Luo et al., ICML 2023, arXiv:2211.14813): the zero-shot segmentor of
# segclip_vit-b16.py (validated during pretraining) plus the pretraining losses: text tower trainable
# (embeddings frozen); contrastive + masked reconstruction (75%, MAE decoder 384 x 3) +
# superpixel KL.
_base_ = ['./segclip_vit-b16.py']
model = dict(
    type='SegCLIPPretrainer',
    losses=('contrastive', 'reconstruction', 'superpixel'),
    mask_ratio=0.75,
    decoder=dict(decoder_dim=384, decoder_depth=3, decoder_heads=8, encoder_depth=2))
