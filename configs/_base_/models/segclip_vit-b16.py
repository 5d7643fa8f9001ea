# SegCLIP (Luo et al., ICML 2023, arXiv:2211.14813), the zero-shot segmentor: CLIP ViT-B/16 with the semantic group
# module after layer 10, 8 centers, 2 cross-attention blocks, Gumbel tau 0.9; the CLIP text
# tower; 224 windows. It loads pretraining checkpoints (segclip-pretrain_vit-b16.py) by the
# rule of docs/methods/segclip.md: segmentor.* -> *, reconstruction.* dropped.
model = dict(
    type='SegCLIP',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[122.7709383, 116.7460125, 104.09373615],   # CLIP's normalisation
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True,
        size=(224, 224),
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(type='SemanticGroupViT', arch='ViT-B-16', pretrained='openai',
                  plug_layer=10, num_centers=8, num_cross_attn=2, tau=0.9),
    templates='a photo of a {}.',
    top_k=5,
    slide_crop=224,
    slide_stride=224)
# The checkpoints carry the model's own classes and palette (from its vocabulary) in
# meta.dataset_meta, for mmseg's init_model / MMSegInferencer (langseg.engine.DatasetMetaHook).
default_hooks = dict(dataset_meta=dict(type='DatasetMetaHook'))
