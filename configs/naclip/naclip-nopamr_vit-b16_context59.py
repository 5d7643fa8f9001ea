# NACLIP without PAMR (opt-in; the official `test_all.sh reduced naclip 5 off`) on context59.
# Published without PAMR (as tabulated by Trident, ICCV 2025): 35.2 mIoU.
_base_ = './naclip_vit-b16_context59.py'
model = dict(pamr=None)
protocol = dict(published_miou=35.2,
                source='Hajimiri et al., NACLIP, WACV 2025 (arXiv:2404.08181); without PAMR, '
                       'as tabulated by Trident (ICCV 2025)',
                notes='single-scale, whole test set, the settings of this config (PAMR off)')
