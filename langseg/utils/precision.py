"""Mixed precision for inference: fp16 / bf16 autocast on CUDA, bf16 on CPUs that have
native bf16 instructions (AVX-512 BF16 or AMX), fp32 otherwise."""
from __future__ import annotations

import contextlib

import torch

from .errors import ConfigError

PRECISIONS = ('fp32', 'fp16', 'bf16', 'auto')


def cpu_supports_bf16() -> bool:
    """Whether this CPU runs bf16 matrix products natively (AVX-512 BF16 or AMX)."""
    checks = [getattr(torch.cpu, '_is_avx512_bf16_supported', None),
              getattr(torch.cpu, '_is_amx_tile_supported', None)]
    for check in checks:
        try:
            if check is not None and check():
                return True
        except Exception:  # pragma: no cover - very old torch
            pass
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``'auto'`` -> fp16 on CUDA, bf16 on a CPU with native bf16, fp32 otherwise; fp16 on
    a CPU (no fast kernels there) -> fp32."""
    if precision not in PRECISIONS:
        raise ConfigError(f'precision {precision!r}: expected one of {", ".join(PRECISIONS)}')
    if precision == 'auto':
        if device.type == 'cuda':
            return 'fp16'
        return 'bf16' if device.type == 'cpu' and cpu_supports_bf16() else 'fp32'
    if device.type == 'cpu' and precision == 'fp16':
        return 'fp32'
    return precision


def autocast_for(precision: str, device: torch.device):
    """The autocast context of a resolved precision on ``device`` (a no-op for fp32)."""
    precision = resolve_precision(precision, device)
    if precision == 'fp32' or device.type not in ('cuda', 'cpu'):
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == 'fp16' else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype)


__all__ = ['PRECISIONS', 'autocast_for', 'cpu_supports_bf16', 'resolve_precision']
