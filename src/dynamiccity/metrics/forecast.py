"""Occupancy forecasting (paper B.2): the baselines a forecast must beat and its scores per future frame.

Copy-last repeats the last observed frame. When the ego moves, the world slides through the grid and
copy-last is wrong everywhere for a reason no forecaster has to learn; the ego-motion-compensated copy-last
moves the last frame's voxels by the ego's true motion (from the poses) into each future frame's grid: the
static world lands where it will be, moving actors stay where they were last seen.
"""

from __future__ import annotations

import numpy as np
import torch

from dynamiccity.data.egoframe import lookup, moved
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
    to_last = np.linalg.inv(last_pose)
    return np.stack([moved(last, to_last @ pose, extent) for pose in future_poses])


def observed_kept(
    forecast: np.ndarray,
    last: np.ndarray,
    last_pose: np.ndarray,
    future_poses: np.ndarray,
    extent: tuple[float, float, float, float, float, float],
) -> np.ndarray:
    """A forecast (F, X, Y, Z) that keeps what the last observed frame saw: each voxel of a future frame that
    lands inside the last frame's grid (seen from the future pose, as `ego_copy_last`) takes the label
    observed there; the forecast fills only what the last frame did not see. `future_poses` (F, 4, 4) are the
    poses the forecast is shown along."""
    if not (np.isfinite(last_pose).all() and np.isfinite(future_poses).all()):
        raise ValueError("keeping the observed world needs finite poses; the data has none.")
    if forecast.shape[1:] != last.shape or len(forecast) != len(future_poses):
        raise ValueError(
            f"a forecast {forecast.shape} must be (F, X, Y, Z) with F = {len(future_poses)} future poses and "
            f"(X, Y, Z) = the last frame's {last.shape}."
        )
    flat, inside = lookup(last.shape, np.linalg.inv(last_pose) @ future_poses, extent)
    out = forecast.reshape(len(forecast), -1).copy()
    for f in range(len(out)):
        out[f, inside[f]] = last.reshape(-1)[flat[f, inside[f]]]
    return out.reshape(forecast.shape)


def voted(forecasts: np.ndarray, num_classes: int) -> np.ndarray:
    """The per-voxel most frequent class of K forecasts (K, F, X, Y, Z) of one future: (F, X, Y, Z).

    A generative model's sample is one possible future; scored voxel by voxel, the class most samples agree
    on is the better point forecast (it maximises the expected voxel accuracy as K grows). A tie goes to the
    lowest class id: to free (0) whenever free is among the most frequent."""
    forecasts = np.asarray(forecasts)
    if forecasts.ndim != 5 or len(forecasts) == 0:
        raise ValueError(f"voting needs forecasts (K, F, X, Y, Z) with K >= 1, got {forecasts.shape}.")
    if len(forecasts) == 1:
        return forecasts[0]
    counts = np.zeros((num_classes, *forecasts.shape[1:]), dtype=np.uint16)
    for c in range(num_classes):
        counts[c] = (forecasts == c).sum(0)
    return counts.argmax(0).astype(forecasts.dtype)  # argmax takes the first maximum: the lowest id


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
