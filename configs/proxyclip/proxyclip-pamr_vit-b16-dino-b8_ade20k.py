# ProxyCLIP + PAMR post-processing on ade20k: PAMR (Araslanov and Roth, CVPR 2020,
# arXiv:2005.08104) as NACLIP (Hajimiri et al., WACV 2025, arXiv:2404.08181) applies it:
# 10 iterations, dilations 8 and 16, on the logits at the image size, before the softmax.
# No published ProxyCLIP + PAMR number; NACLIP reports +3.1 mIoU on average for itself.
_base_ = './proxyclip_vit-b16-dino-b8_ade20k.py'
model = dict(pamr=dict(num_iter=10, dilations=[8, 16]))
protocol = dict(published_miou=None,
                source='no published ProxyCLIP + PAMR number (NACLIP, WACV 2025, reports '
                       'PAMR gains for its own method)')
