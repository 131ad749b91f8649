"""The static world as a top-down raster of layered columns, and the stamps that draw objects into it.

Each cell holds three layers, drawn bottom to top at voxelisation:
  surface  - `surf_cls` in the one voxel whose centre lies in [surf_top - 3 vz / 4, surf_top + vz / 4):
             road, sidewalk, ground or FREE;
  column   - `col_cls` occupying [col_lo, col_hi): buildings, walls, poles, trunks, hedges, parked cars;
  elevated - `up_cls` occupying [up_lo, up_hi): tree canopies, roofs.
Heights are world z in metres with the ground at 0 and vz the voxel height. Objects rooted in the ground
start at `root` (replacing the surface voxel); objects standing on it start at surf_top + `above`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KERB_HEIGHT = 0.15
"""Height of a sidewalk above the road (m)."""

LAYERS = ("surf_cls", "surf_top", "col_cls", "col_lo", "col_hi", "up_cls", "up_lo", "up_hi")
"""The per-cell layers of a WorldMap, in field order."""

SURFACE_BELOW, SURFACE_ABOVE = 0.75, 0.25
"""The surface voxel is the one whose centre lies within [top - 0.75 vz, top + 0.25 vz) of the surface top,
so a road and a kerb-high sidewalk share a layer unless voxels are finer than the kerb."""


@dataclass
class WorldMap:
    """Layered raster of the static world; cell (i, j) covers x in [x0 + i res, x0 + (i + 1) res) and
    likewise y from y0. Class layers are (H, W) uint8 common ids, height layers (H, W) float32 metres.
    vz and vxy are the voxel height and footprint size; thin objects are drawn at least vxy wide."""

    x0: float
    y0: float
    res: float
    vz: float
    vxy: float
    surf_cls: np.ndarray
    surf_top: np.ndarray
    col_cls: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    up_cls: np.ndarray
    up_lo: np.ndarray
    up_hi: np.ndarray

    @classmethod
    def empty(cls, bounds: tuple[float, float, float, float], res: float, vz: float, vxy: float) -> WorldMap:
        """An all-free map over bounds (xmin, ymin, xmax, ymax) at `res` metres per cell."""
        shape = (int(np.ceil((bounds[2] - bounds[0]) / res)), int(np.ceil((bounds[3] - bounds[1]) / res)))
        layers = [np.zeros(shape, np.uint8 if name.endswith("cls") else np.float32) for name in LAYERS]
        return cls(bounds[0], bounds[1], res, vz, vxy, *layers)

    @property
    def root(self) -> float:
        """Bottom height of objects rooted in the ground: they fill the surface voxel too."""
        return -SURFACE_BELOW * self.vz

    @property
    def above(self) -> float:
        """Height above a surface where the voxels of objects standing on it begin."""
        return SURFACE_ABOVE * self.vz

    @property
    def shape(self) -> tuple[int, int]:
        return self.surf_cls.shape

    def centres(self) -> np.ndarray:
        """(H * W, 2) float64 world xy of every cell centre, row-major."""
        xs = self.x0 + (np.arange(self.shape[0]) + 0.5) * self.res
        ys = self.y0 + (np.arange(self.shape[1]) + 0.5) * self.res
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        return np.stack([gx.ravel(), gy.ravel()], axis=1)

    def index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer cell indices (i, j) of world points, clipped to the map; same shapes as x, y."""
        i = np.clip(np.floor((x - self.x0) / self.res).astype(np.int64), 0, self.shape[0] - 1)
        j = np.clip(np.floor((y - self.y0) / self.res).astype(np.int64), 0, self.shape[1] - 1)
        return i, j

    def window(self, centre: np.ndarray, radius: float) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
        """The cells within a square of half-size `radius` around `centre` (2,): index slices and the
        world x (h, 1) and y (1, w) of their centres; None when the square misses the map."""
        (h, w), res = self.shape, self.res
        i0, i1 = (
            math.floor((centre[0] - radius - self.x0) / res),
            math.floor((centre[0] + radius - self.x0) / res) + 1,
        )
        j0, j1 = (
            math.floor((centre[1] - radius - self.y0) / res),
            math.floor((centre[1] + radius - self.y0) / res) + 1,
        )
        i0, i1, j0, j1 = max(i0, 0), min(i1, h), max(j0, 0), min(j1, w)
        if i0 >= i1 or j0 >= j1:
            return None
        xs = self.x0 + (np.arange(i0, i1) + 0.5) * res
        ys = self.y0 + (np.arange(j0, j1) + 0.5) * res
        return slice(i0, i1), slice(j0, j1), xs[:, None], ys[None, :]

    def stamp_box(
        self, centre: np.ndarray, yaw: float, half: tuple[float, float], cls: int, lo: float, hi: float
    ) -> None:
        """Write class `cls` over [lo, hi) into the column layer inside an oriented rectangle.

        Args:
            centre: (2,) world xy; yaw: heading of the rectangle's length; half: (half-length, half-width).
        """
        found = self.window(centre, float(np.hypot(*half)) + self.res)
        if found is None:
            return
        si, sj, gx, gy = found
        c, s = np.cos(yaw), np.sin(yaw)
        dx, dy = gx - centre[0], gy - centre[1]
        inside = (np.abs(c * dx + s * dy) < half[0]) & (np.abs(-s * dx + c * dy) < half[1])
        self.col_cls[si, sj][inside] = cls
        self.col_lo[si, sj][inside] = lo
        self.col_hi[si, sj][inside] = hi

    def stamp_disc(
        self, centre: np.ndarray, radius: float, cls: int, lo: float, hi: float, layer: str = "up"
    ) -> None:
        """Write class `cls` over [lo, hi) inside a disc of `radius` around `centre` (2,), into the
        elevated layer ("up", e.g. a canopy) or the column layer ("col", e.g. a bush)."""
        found = self.window(centre, radius + self.res)
        if found is None:
            return
        si, sj, gx, gy = found
        inside = (gx - centre[0]) ** 2 + (gy - centre[1]) ** 2 < radius**2
        getattr(self, f"{layer}_cls")[si, sj][inside] = cls
        getattr(self, f"{layer}_lo")[si, sj][inside] = lo
        getattr(self, f"{layer}_hi")[si, sj][inside] = hi

    def sample(self, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Nearest-cell values of every layer at world points x, y (any equal shapes)."""
        i, j = self.index(x, y)
        flat = i * self.shape[1] + j
        return {name: getattr(self, name).ravel().take(flat) for name in LAYERS}


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion of a (H, W) bool mask by a (2 radius + 1)^2 square (outside the map counts as False)."""
    if radius <= 0:
        return mask.copy()
    padded = np.pad(mask.astype(np.int32), radius + 1)
    table = padded.cumsum(axis=0).cumsum(axis=1)  # summed-area table
    size = 2 * radius + 1
    h, w = mask.shape
    a = table[size : size + h, size : size + w]
    b = table[:h, size : size + w]
    c = table[size : size + h, :w]
    d = table[:h, :w]
    return (a - b - c + d) == size * size
