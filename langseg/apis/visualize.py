"""Overlays with a legend, and per-class areas: what a person looks at."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def palette(num_classes: int, seed: int = 3) -> np.ndarray:
    """A fixed, well-spread RGB colour per class (``num_classes x 3`` uint8)."""
    rng = np.random.default_rng(seed)
    hues = (np.arange(num_classes) * 0.61803398875) % 1.0
    hsv = np.stack([hues * 179, 160 + rng.integers(0, 90, num_classes),
                    170 + rng.integers(0, 80, num_classes)], axis=1).astype(np.uint8)
    return cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]


def class_areas(labels: np.ndarray, class_names: Sequence[str]) -> list[tuple[str, float]]:
    """(name, fraction of the image) of every class present, largest first."""
    counts = np.bincount(labels.reshape(-1), minlength=len(class_names))[:len(class_names)]
    total = max(int(labels.size), 1)
    return sorted(((class_names[i], counts[i] / total) for i in np.flatnonzero(counts)),
                  key=lambda t: -t[1])


def overlay_with_legend(image: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                        alpha: float = 0.5) -> np.ndarray:
    """RGB ``image`` (H, W, 3) blended with the label colours, plus a legend column listing
    the classes present with their colour and area."""
    colours = palette(len(class_names))
    blended = (image.astype(np.float32) * (1 - alpha)
               + colours[labels].astype(np.float32) * alpha).astype(np.uint8)
    areas = class_areas(labels, class_names)
    row, width = 22, 230
    height = max(blended.shape[0], row * (len(areas) + 1) + 8)
    canvas = np.full((height, blended.shape[1] + width, 3), 255, np.uint8)
    canvas[:blended.shape[0], :blended.shape[1]] = blended
    x0 = blended.shape[1] + 8
    cv2.putText(canvas, 'class (area)', (x0, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                cv2.LINE_AA)
    for k, (name, frac) in enumerate(areas):
        y = row * (k + 1) + 8
        idx = list(class_names).index(name)
        cv2.rectangle(canvas, (x0, y), (x0 + 14, y + 14), tuple(int(c) for c in colours[idx]),
                      -1)
        short = name.split(';')[0][:22]
        cv2.putText(canvas, f'{short} ({100 * frac:.1f}%)', (x0 + 20, y + 12),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas
