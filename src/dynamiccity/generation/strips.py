"""Strips of windows that a shift brings into view: the primitives of outpainting, shared by outpainting
(`editing.edits`) and the strips a world-coordinate DiT's ego looks into (`generation.along_path`)."""

from __future__ import annotations

import numpy as np


def slid(windows: np.ndarray, direction: str, voxels: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows (n, T, X, Y, Z) slid `voxels` towards `direction`: what stays in view moved along (the strip
    that enters free), and the (X, Y) mask of the columns it kept."""
    axis = 2 if direction[1] == "x" else 3
    out = np.zeros_like(windows)
    kept = np.zeros(windows.shape[2:4], bool)
    src, dst = [slice(None)] * 5, [slice(None)] * 5
    if direction[0] == "+":
        src[axis], dst[axis] = slice(voxels, None), slice(0, -voxels)
    else:
        src[axis], dst[axis] = slice(0, -voxels), slice(voxels, None)
    out[tuple(dst)] = windows[tuple(src)]
    kept[tuple(dst[2:4])] = True
    return out, kept


def new_strip(windows: np.ndarray, direction: str, voxels: int) -> np.ndarray:
    """The part (n, T, ..) of decoded windows (n, T, X, Y, Z) that a shift towards `direction` brought in."""
    axis = 2 if direction[1] == "x" else 3
    index = [slice(None)] * 5
    index[axis] = slice(-voxels, None) if direction[0] == "+" else slice(0, voxels)
    return windows[tuple(index)]
