# MaskCLIP baseline in the ProxyCLIP segmentor: CLIP's last block reduced to its value path,
# no VFM (paper 004, Table 1: MaskCLIP 12.51 mIoU on COCO-Stuff).
_base_ = './proxyclip_vit-b16-dino-b8_coco-stuff.py'
model = dict(attention='maskclip', vfm=None)
