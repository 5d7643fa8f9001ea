# ProxyCLIP on context59 with langseg's richer vocabulary rich_context59.txt (opt-in): the person line
# with six clothing queries, multi-word names spelled with spaces ("potted plant", "tv
# monitor"; COCO-Stuff's -other/-stuff suffixes dropped). Not the official class names
# (cls_context59.txt, which the published row uses): this config claims no published number.
_base_ = './proxyclip_vit-b16-dino-b8_context59.py'
model = dict(class_names='rich_context59.txt')
protocol = dict(published_miou=None,
                source='langseg opt-in vocabulary rich_context59.txt: no published number (the '
                       'published row, proxyclip_vit-b16-dino-b8_context59.py, uses the official '
                       'cls_context59.txt)')
