# ProxyCLIP on coco-object with langseg's richer vocabulary rich_coco_object.txt (opt-in): the person line
# with six clothing queries, multi-word names spelled with spaces ("potted plant", "tv
# monitor"; COCO-Stuff's -other/-stuff suffixes dropped). Not the official class names
# (cls_coco_object.txt, which the published row uses): this config claims no published number.
_base_ = './proxyclip_vit-b16-dino-b8_coco-object.py'
model = dict(class_names='rich_coco_object.txt')
protocol = dict(published_miou=None,
                source='langseg opt-in vocabulary rich_coco_object.txt: no published number (the '
                       'published row, proxyclip_vit-b16-dino-b8_coco-object.py, uses the official '
                       'cls_coco_object.txt)')
