"""Evaluation: reconstruction scores (paper Sec. 5.1) and statistics of generated scene sets."""

from dynamiccity.metrics.reconstruction import ConfusionMatrix, by_class_name, changing_voxels, occupancy_iou
from dynamiccity.metrics.scenes import class_histogram, histogram_distance, temporal_change

__all__ = [
    "ConfusionMatrix", "by_class_name", "changing_voxels", "class_histogram", "histogram_distance",
    "occupancy_iou", "temporal_change",
]  # fmt: skip
