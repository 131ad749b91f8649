"""Occupancy forecasting (paper B.2): the baselines a forecast must beat and its scores per future frame.

Copy-last repeats the last observed frame. When the ego moves, the world slides through the grid and
copy-last is wrong everywhere for a reason no forecaster has to learn; the ego-motion-compensated copy-last
moves the last frame's voxels by the ego's true motion (from the poses) into each future frame's grid: the
static world lands where it will be, moving actors stay where they were last seen.
"""

from __future__ import annotations

import numpy as np
import torch

from dynamiccity.data.classes import FREE
from dynamiccity.metrics.reconstruction import ConfusionMatrix


def copy_last(past: np.ndarray, frames: int) -> np.ndarray:
    """The last frame of past (T, X, Y, Z) repeated `frames` times: (frames, X, Y, Z)."""
    return np.repeat(past[-1:], frames, axis=0)


def ego_copy_last(
    last: np.ndarray,
    last_pose: np.ndarray,
    future_poses: np.ndarray,
    extent: tuple[float, float, float, float, float, float],
) -> np.ndarray:
    """The last observed frame (X, Y, Z) seen from each future ego pose: (F, X, Y, Z).

    Each voxel centre of a future frame's grid is taken through the world into the last frame's ego frame
    and given the label of the voxel it lands in (nearest neighbour); free where it lands outside the grid.
    Poses are ego-to-world (4, 4) (`last_pose`) and (F, 4, 4); `extent` is the grid's metric box
    [x0, y0, z0, x1, y1, z1] around the ego.
    """
    if not (np.isfinite(last_pose).all() and np.isfinite(future_poses).all()):
        raise ValueError("ego-motion-compensated copy-last needs finite poses; the data has none.")
    shape = np.array(last.shape)
    lo, hi = np.array(extent[:3]), np.array(extent[3:])
    size = (hi - lo) / shape
    idx = np.stack(np.meshgrid(*(np.arange(n) for n in last.shape), indexing="ij"), axis=-1).reshape(-1, 3)
    centres = np.concatenate([lo + (idx + 0.5) * size, np.ones((len(idx), 1))], axis=1)  # (N, 4)
    out = np.full((len(future_poses), *last.shape), FREE, dtype=last.dtype)
    to_last = np.linalg.inv(last_pose)
    for f, pose in enumerate(future_poses):
        seen = centres @ (to_last @ pose).T  # (N, 4) in the last frame's ego frame
        cell = np.floor((seen[:, :3] - lo) / size).astype(np.int64)
        inside = np.all((cell >= 0) & (cell < shape), axis=1)
        flat = out[f].reshape(-1)
        flat[inside] = last[cell[inside, 0], cell[inside, 1], cell[inside, 2]]
    return out


class PerFrameScores:
    """Confusion matrices per future frame index, accumulated over forecasts: mIoU and occupancy IoU of
    each future frame (as `ConfusionMatrix.compute`)."""

    def __init__(self, frames: int, num_classes: int) -> None:
        self.matrices = [ConfusionMatrix(num_classes) for _ in range(frames)]

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        """pred, target: (F, X, Y, Z) class ids of one forecast and its truth."""
        if pred.shape != target.shape or len(pred) != len(self.matrices):
            raise ValueError(
                f"a forecast {pred.shape} and its truth {target.shape} must both be ({len(self.matrices)}, X, Y, Z)."
            )
        for matrix, p, t in zip(self.matrices, pred, target, strict=True):
            matrix.update(
                torch.from_numpy(np.ascontiguousarray(p)), torch.from_numpy(np.ascontiguousarray(t))
            )

    def compute(self) -> dict[str, list[float]]:
        """{"miou": [per future frame], "iou": [per future frame]}."""
        scores = [m.compute() for m in self.matrices]
        return {"miou": [s["miou"] for s in scores], "iou": [s["iou"] for s in scores]}
