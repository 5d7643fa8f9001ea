# NACLIP without PAMR (opt-in; the official `test_all.sh reduced naclip 5 off`) on voc21.
# Published without PAMR (as tabulated by Trident, ICCV 2025): 58.9 mIoU.
_base_ = './naclip_vit-b16_voc21.py'
model = dict(pamr=None)
protocol = dict(published_miou=58.9,
                source='Hajimiri et al., NACLIP, WACV 2025 (arXiv:2404.08181); without PAMR, '
                       'as tabulated by Trident (ICCV 2025)',
                notes='single-scale, whole test set, the settings of this config (PAMR off)')
