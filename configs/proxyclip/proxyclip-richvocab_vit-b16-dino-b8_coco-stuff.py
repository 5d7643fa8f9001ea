# ProxyCLIP on coco-stuff with langseg's richer vocabulary rich_coco_stuff.txt (opt-in): the person line
# with six clothing queries, multi-word names spelled with spaces ("potted plant", "tv
# monitor"; COCO-Stuff's -other/-stuff suffixes dropped). Not the official class names
# (cls_coco_stuff.txt, which the published row uses): this config claims no published number.
_base_ = './proxyclip_vit-b16-dino-b8_coco-stuff.py'
model = dict(class_names='rich_coco_stuff.txt')
protocol = dict(published_miou=None,
                source='langseg opt-in vocabulary rich_coco_stuff.txt: no published number (the '
                       'published row, proxyclip_vit-b16-dino-b8_coco-stuff.py, uses the official '
                       'cls_coco_stuff.txt)')
