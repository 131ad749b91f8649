"""Statistics of sets of scenes that need no trained network: class histograms and temporal change."""

from __future__ import annotations

import numpy as np
import torch


def class_histogram(
    labels: torch.Tensor | np.ndarray, num_classes: int, occupied_only: bool = True
) -> np.ndarray:
    """Share of each class among the voxels of `labels` (any shape); with `occupied_only`, among the
    non-free voxels (class 0 gets 0). Sums to 1 unless there is nothing to count."""
    counts = np.bincount(np.asarray(labels).reshape(-1), minlength=num_classes)[:num_classes].astype(
        np.float64
    )
    if occupied_only:
        counts[0] = 0.0
    total = counts.sum()
    return counts / total if total else counts


def histogram_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Total-variation distance 0.5 * sum |p - q| between two class histograms (0 same, 1 disjoint)."""
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())


def temporal_change(labels: torch.Tensor | np.ndarray) -> float:
    """How much a sequence changes from frame to frame: over consecutive frames of labels (N, T, X, Y, Z),
    the share of voxels occupied in either frame whose label differs between the two (0 for a frozen scene).

    Ego motion and moving actors make real data change too, so compare a model's value with the data's: a
    generator whose frames are each plausible but unrelated scores far above it.
    """
    seq = np.asarray(labels)
    if seq.ndim != 5 or seq.shape[1] < 2:
        raise ValueError(f"labels must be (N, T>=2, X, Y, Z), got {seq.shape}.")
    before, after = seq[:, :-1], seq[:, 1:]
    either = (before != 0) | (after != 0)
    total = int(either.sum())
    return float(((before != after) & either).sum() / total) if total else 0.0
