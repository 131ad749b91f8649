"""Evaluation: reconstruction scores (paper Sec. 5.1), generation metrics on features (paper A.2) and
statistics of generated scene sets."""

from dynamiccity.metrics.generation import (
    frechet_distance,
    gaussian_precision_recall,
    inception_score,
    kernel_distance,
    kernel_distance_subsets,
    knn_precision_recall,
)
from dynamiccity.metrics.reconstruction import (
    ConfusionMatrix,
    GhostCount,
    by_class_name,
    changing_voxels,
    occupancy_iou,
)
from dynamiccity.metrics.scenes import class_histogram, histogram_distance, temporal_change

__all__ = [
    "ConfusionMatrix", "GhostCount", "by_class_name", "changing_voxels", "class_histogram", "frechet_distance",
    "gaussian_precision_recall", "histogram_distance", "inception_score", "kernel_distance",
    "kernel_distance_subsets", "knn_precision_recall", "occupancy_iou", "temporal_change",
]  # fmt: skip
