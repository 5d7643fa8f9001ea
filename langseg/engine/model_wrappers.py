"""Model wrappers for distributed training without a GPU (gloo backend).

mmengine's default ``MMDistributedDataParallel`` is built with ``device_ids=[LOCAL_RANK]``
(a CUDA device) and keeps SyncBN layers, which have no CPU kernel. ``CPUDistributedDataParallel``
reverts SyncBN to BN and wraps the model for CPU processes; ``tools/train.py`` selects it
when a multi-process launch finds no CUDA device.
"""
from __future__ import annotations

from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm

from ..registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for CPU processes (no ``device_ids``, no SyncBN)."""

    def __init__(self, module, **kwargs) -> None:
        kwargs.pop('device_ids', None)
        kwargs.setdefault('broadcast_buffers', False)
        super().__init__(module=revert_sync_batchnorm(module), device_ids=None, **kwargs)
