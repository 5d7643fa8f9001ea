"""One colour per class, shared by the overlays (``langseg.apis.visualize``) and the
models' ``dataset_meta`` (``langseg.models.segmentors.open_vocab``)."""
from __future__ import annotations

import cv2
import numpy as np


def palette(num_classes: int, seed: int = 3) -> np.ndarray:
    """A fixed, well-spread RGB colour per class (``num_classes x 3`` uint8)."""
    rng = np.random.default_rng(seed)
    hues = (np.arange(num_classes) * 0.61803398875) % 1.0
    hsv = np.stack([hues * 179, 160 + rng.integers(0, 90, num_classes),
                    170 + rng.integers(0, 80, num_classes)], axis=1).astype(np.uint8)
    return cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]
