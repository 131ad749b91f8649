"""Layout metrics: how well a scene's vehicles follow a requested bird's-eye layout."""

from __future__ import annotations

import numpy as np

from dynamiccity.data.derive import bev_layout
from dynamiccity.metrics.registration import check_labels


def layout_iou(labels: np.ndarray, layout: np.ndarray, factor: int) -> float:
    """IoU in [0, 1] of the BEV vehicle map of labels (T, X, Y, Z) (`data.derive.bev_layout`, max-pooled
    by `factor`) with a requested layout (T, X/factor, Y/factor) bool, over all frames; 1.0 when both
    are empty."""
    check_labels(labels)
    shown = bev_layout(labels, factor)
    layout = np.asarray(layout, dtype=bool)
    if layout.shape != shown.shape:
        raise ValueError(f"layout shape {layout.shape} does not match the labels' BEV layout {shown.shape}.")
    union = int((shown | layout).sum())
    return float((shown & layout).sum() / union) if union else 1.0
