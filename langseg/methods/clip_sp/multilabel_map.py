"""Multi-label mAP reported beside mIoU (CLIP-SP's multi-label decoder, Li et al., CVM 2024, doi:10.1007/s41095-024-0430-4).

Ground truth per image: the set of classes present in its label map (ignore index
excluded). Prediction: ``data_sample.pred_multilabel`` (K probabilities). AP per class is
the mean of the precisions at the ranks of its positive images (the area under the
non-interpolated precision-recall curve); mAP averages the classes that have at least one
positive image.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from ...registry import METRICS
from ...utils.errors import ConfigError


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """AP of one class: ``scores`` (N,), binary ``positives`` (N,)."""
    order = np.argsort(-scores, kind='stable')
    hits = positives[order].astype(bool)
    if not hits.any():
        return float('nan')
    ranks = np.flatnonzero(hits) + 1
    precision_at_hits = np.cumsum(hits)[hits] / ranks
    return float(precision_at_hits.mean())


def present_classes(label_map: torch.Tensor, num_classes: int,
                    ignore_index: int = 255) -> np.ndarray:
    """Binary (K,) vector of the classes present in ``label_map``."""
    labels = label_map.reshape(-1)
    labels = labels[(labels != ignore_index) & (labels >= 0) & (labels < num_classes)]
    present = np.zeros(num_classes, dtype=bool)
    present[labels.unique().cpu().numpy()] = True
    return present


@METRICS.register_module()
class MultiLabelMAP(BaseMetric):
    """mAP of ``pred_multilabel`` against the classes present in ``gt_sem_seg``."""

    default_prefix = ''

    def __init__(self, ignore_index: int = 255, collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'pred_multilabel' not in sample:
                raise ConfigError('MultiLabelMAP needs data_sample.pred_multilabel: expected '
                                  'a model that predicts multi-label probabilities (CLIP-SP)')
            scores = sample['pred_multilabel']
            scores = scores.data if hasattr(scores, 'data') else scores
            scores = torch.as_tensor(scores).float().reshape(-1).cpu().numpy()
            gt = sample['gt_sem_seg']['data']
            self.results.append((scores, present_classes(gt, len(scores), self.ignore_index)))

    def compute_metrics(self, results: list) -> dict:
        scores = np.stack([r[0] for r in results])
        targets = np.stack([r[1] for r in results])
        aps = [average_precision(scores[:, k], targets[:, k]) for k in range(scores.shape[1])]
        aps = [a for a in aps if not np.isnan(a)]
        return {'mAP': round(100 * float(np.mean(aps)), 2) if aps else float('nan')}
