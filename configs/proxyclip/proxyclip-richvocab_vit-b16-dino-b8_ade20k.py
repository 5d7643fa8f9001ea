# ProxyCLIP on ade20k with langseg's richer vocabulary rich_ade20k.txt (opt-in): the person line
# with six clothing queries, multi-word names spelled with spaces ("potted plant", "tv
# monitor"; COCO-Stuff's -other/-stuff suffixes dropped). Not the official class names
# (cls_ade20k.txt, which the published row uses): this config claims no published number.
_base_ = './proxyclip_vit-b16-dino-b8_ade20k.py'
model = dict(class_names='rich_ade20k.txt')
protocol = dict(published_miou=None,
                source='langseg opt-in vocabulary rich_ade20k.txt: no published number (the '
                       'published row, proxyclip_vit-b16-dino-b8_ade20k.py, uses the official '
                       'cls_ade20k.txt)')
