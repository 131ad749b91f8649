"""In-memory containers for occupancy scenes and the checks every reader applies to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dynamiccity.data.classes import NUM_CLASSES
from dynamiccity.data.errors import DataError


@dataclass(frozen=True)
class GridSpec:
    """The voxel grid of a dataset: shape (X, Y, Z) and metric extent [x0, y0, z0, x1, y1, z1]."""

    shape: tuple[int, int, int]
    extent: tuple[float, float, float, float, float, float]
    hz: float

    @property
    def voxel_size(self) -> tuple[float, float, float]:
        lo, hi = np.array(self.extent[:3]), np.array(self.extent[3:])
        return tuple(float(v) for v in (hi - lo) / np.array(self.shape))

    def widened(self, margin: int) -> GridSpec:
        """This grid with `margin` more voxels of the same size on each side in x and y (the same Z)."""
        if margin < 0:
            raise ValueError(f"a grid's margin is a number of voxels >= 0, got {margin}.")
        (x, y, z), (vx, vy, _) = self.shape, self.voxel_size
        x0, y0, z0, x1, y1, z1 = self.extent
        extent = (x0 - margin * vx, y0 - margin * vy, z0, x1 + margin * vx, y1 + margin * vy, z1)
        return GridSpec((x + 2 * margin, y + 2 * margin, z), extent, self.hz)


CARLASC_GRID = GridSpec((128, 128, 8), (-25.6, -25.6, -2.0, 25.6, 25.6, 1.0), hz=10.0)
OCC3D_NUSCENES_GRID = GridSpec((200, 200, 16), (-40.0, -40.0, -1.0, 40.0, 40.0, 5.4), hz=2.0)
OCC3D_WAYMO_GRID = GridSpec((200, 200, 16), (-40.0, -40.0, -1.0, 40.0, 40.0, 5.4), hz=10.0)
# 0.2 m voxels, 51.2 m ahead of the LiDAR; a voxel frame every fifth 10 Hz scan
SEMANTICKITTI_GRID = GridSpec((256, 256, 32), (0.0, -25.6, -2.0, 51.2, 25.6, 4.4), hz=2.0)


@dataclass(frozen=True)
class SceneInfo:
    """One scene of a dataset as listed by its reader, before any voxels are read."""

    name: str
    split: str
    num_frames: int
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class Scene:
    """A whole occupancy sequence in the common class set.

    Attributes:
        labels: (T, X, Y, Z) uint8 common class ids.
        poses: (T, 4, 4) float64 ego-to-world rigid transforms, or None when the data has no poses. Poses
            that are all NaN, as a `Window` of such data carries, are taken as None.
        valid: (T, X, Y, Z) bool, True where the voxel was observed; None when every voxel is.
        name: the scene's name; meta: free-form per-scene facts (layout type, density, ...).
    """

    labels: np.ndarray
    poses: np.ndarray | None
    valid: np.ndarray | None = None
    name: str = "scene"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_labels(self.labels, self.name)
        if (
            self.poses is not None
            and np.issubdtype(self.poses.dtype, np.floating)
            and np.isnan(self.poses).all()
        ):
            self.poses = None
        if self.poses is not None:
            check_poses(self.poses, self.name, num_frames=self.labels.shape[0])
        if self.valid is not None and self.valid.shape != self.labels.shape:
            raise DataError(
                f"{self.name}: valid mask shape {self.valid.shape} != labels {self.labels.shape}."
            )

    @property
    def num_frames(self) -> int:
        return self.labels.shape[0]


def check_labels(labels: np.ndarray, where: str | Path) -> None:
    """Raise DataError unless `labels` is a (T, X, Y, Z) uint8 array of common class ids."""
    if labels.ndim != 4 or labels.dtype != np.uint8:
        raise DataError(f"{where}: labels must be (T, X, Y, Z) uint8, got {labels.shape} {labels.dtype}.")
    top = int(labels.max(initial=0))
    if top >= NUM_CLASSES:
        raise DataError(f"{where}: class id {top} is outside the common class set 0..{NUM_CLASSES - 1}.")


def check_poses(poses: np.ndarray, where: str | Path, num_frames: int | None = None) -> None:
    """Raise DataError unless `poses` is (T, 4, 4), finite and rigid (orthonormal rotation, last row 0 0 0 1)."""
    if poses.ndim != 3 or poses.shape[1:] != (4, 4) or not np.issubdtype(poses.dtype, np.number):
        raise DataError(f"{where}: poses must be (T, 4, 4) numbers, got {poses.shape} {poses.dtype}.")
    if num_frames is not None and poses.shape[0] != num_frames:
        raise DataError(f"{where}: {poses.shape[0]} poses for {num_frames} frames.")
    found = first_bad_pose(poses)
    if found is not None:
        raise DataError(f"{where}: pose of frame {found[0]} {found[1]}.")


def first_bad_pose(poses: np.ndarray) -> tuple[int, str] | None:
    """The first of (T, 4, 4) poses that is not finite and rigid, as (frame, what is wrong); None if all are."""
    finite = np.isfinite(poses).all(axis=(1, 2))
    if not finite.all():
        return int(np.flatnonzero(~finite)[0]), "holds NaN or infinite values"
    rot = poses[:, :3, :3]
    ortho_err = np.abs(rot @ rot.transpose(0, 2, 1) - np.eye(3)).max(axis=(1, 2))
    det = np.linalg.det(rot)
    bottom_err = np.abs(poses[:, 3] - np.array([0.0, 0.0, 0.0, 1.0])).max(axis=1)
    bad = np.flatnonzero((ortho_err > 1e-3) | (np.abs(det - 1.0) > 1e-3) | (bottom_err > 1e-6))
    return (int(bad[0]), "is not a rigid transform") if bad.size else None
