# Runtime shared by every langseg config (mmseg 1.x conventions).
default_scope = 'mmseg'
# mmengine's Runner with a one-line partial-load warning and a CPU multi-process wrapper
# (langseg/engine/runner.py).
runner_type = 'mmseg.LangsegRunner'
custom_imports = dict(imports=['langseg'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # without CUDA, tools/train.py starts gloo itself
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
tta_model = dict(type='SegTTAModel')
