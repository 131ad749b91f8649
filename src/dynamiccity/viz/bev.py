"""A bird's-eye view of an occupancy grid: each (x, y) column drawn in the colour of its top voxel."""

from __future__ import annotations

import numpy as np

from dynamiccity.data.classes import COLORMAP, FREE

BEV_BACKGROUND = np.array((24, 24, 24), dtype=np.uint8)
"""RGB of columns with no occupied voxel."""

BEV_SHADE_MIN = 0.7
"""Brightness of a top voxel at z = 0; it rises linearly to 1.0 at z = Z - 1."""


def render_bev(labels: np.ndarray, valid: np.ndarray | None = None, scale: int = 4) -> np.ndarray:
    """The top-down view of one occupancy grid, ego heading up.

    Image row r, column c shows grid column x = X - 1 - r // scale, y = Y - 1 - c // scale, so +x
    (forward) points up and +y (left) points left. Its colour is that of the top-most occupied voxel at
    height z, scaled by `BEV_SHADE_MIN + (1 - BEV_SHADE_MIN) * z / (Z - 1)` (1.0 when Z == 1) and rounded,
    so that raised objects read against the road; `BEV_BACKGROUND` where the column is empty.

    Args:
        labels: (X, Y, Z) uint8 common class ids; FREE voxels are empty.
        valid: (X, Y, Z) bool or None; voxels where it is False are treated as free.
        scale: pixels per voxel side (nearest-neighbour upscale), >= 1.

    Returns:
        (X * scale, Y * scale, 3) uint8 RGB image.
    """
    check_grid(labels, valid)
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    occupied = labels != FREE
    if valid is not None:
        occupied &= valid
    depth = labels.shape[2]
    top = depth - 1 - occupied[:, :, ::-1].argmax(axis=2)  # (X, Y) int64 height of the top voxel
    top_label = np.take_along_axis(labels, top[:, :, None], axis=2)[:, :, 0]  # (X, Y) uint8
    shade = BEV_SHADE_MIN + (1 - BEV_SHADE_MIN) * top / max(depth - 1, 1)  # (X, Y) float64
    colour = np.round(COLORMAP[top_label] * shade[:, :, None]).astype(np.uint8)  # (X, Y, 3)
    image = np.where(occupied.any(axis=2)[:, :, None], colour, BEV_BACKGROUND)
    image = image[::-1, ::-1]  # +x up, +y left
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def check_grid(labels: np.ndarray, valid: np.ndarray | None) -> None:
    """Raise ValueError unless `labels` is (X, Y, Z) uint8 with colours for all its ids and `valid`
    is None or a bool mask of the same shape."""
    if labels.ndim != 3 or labels.dtype != np.uint8 or 0 in labels.shape:
        raise ValueError(
            f"labels must be a non-empty (X, Y, Z) uint8 array, got {labels.shape} {labels.dtype}"
        )
    if int(labels.max()) >= len(COLORMAP):
        raise ValueError(f"class id {int(labels.max())} has no colour (ids 0..{len(COLORMAP) - 1})")
    if valid is not None and (valid.shape != labels.shape or valid.dtype != np.bool_):
        raise ValueError(f"valid must be bool of shape {labels.shape}, got {valid.shape} {valid.dtype}")
