"""Sliding-window offsets shared by the training-free and zero-shot segmentors."""
from __future__ import annotations


def window_starts(size: int, crop: int, stride: int) -> list[int]:
    """Start offsets of mmseg's sliding-window rule along one axis: ``n = max(size - crop
    + stride - 1, 0) // stride + 1`` windows, the last shifted back inside."""
    n = max(size - crop + stride - 1, 0) // stride + 1
    starts = []
    for i in range(n):
        end = min(i * stride + crop, size)
        starts.append(max(end - crop, 0))
    return starts
