"""From the world to ego-centred voxel frames.

Each frame transforms the grid's column centres into the world by the ego pose, samples the static world
map at the nearest cell, rasterises the actors' oriented boxes, and expands the layers to voxels by
comparing each voxel's centre height with the layers' height ranges. The ego itself is not drawn: the
road surface under it stays, the space it fills is free (as in CarlaSC).
"""

from __future__ import annotations

import numpy as np

from dynamiccity.data.scene import GridSpec
from dynamiccity.synthtown.traffic import Actors
from dynamiccity.synthtown.world import SURFACE_ABOVE, SURFACE_BELOW, WorldMap


def voxel_centres(grid: GridSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres of the voxels along x (X,), y (Y,) and z (Z,) in the ego frame, metres (float64)."""
    lo, size = np.asarray(grid.extent[:3]), np.asarray(grid.voxel_size)
    return tuple(lo[a] + (np.arange(grid.shape[a]) + 0.5) * size[a] for a in range(3))


def to_ego(xy: np.ndarray, ego: np.ndarray) -> np.ndarray:
    """World points xy (T, N, 2) in the ego frames of poses ego (T, 3) = (x, y, yaw): (T, N, 2)."""
    c, s = np.cos(ego[:, 2])[:, None], np.sin(ego[:, 2])[:, None]
    dx, dy = xy[..., 0] - ego[:, None, 0], xy[..., 1] - ego[:, None, 1]
    return np.stack([c * dx + s * dy, -s * dx + c * dy], axis=-1)


def sample_static(world: WorldMap, ego: np.ndarray, grid: GridSpec) -> dict[str, np.ndarray]:
    """The world map's layers under every grid column of every frame: each (T, X, Y).

    Args:
        ego: (T, 3) float64 world x, y, yaw of the ego in each frame.
    """
    cx, cy, _ = voxel_centres(grid)
    c, s = np.cos(ego[:, 2])[:, None, None], np.sin(ego[:, 2])[:, None, None]
    wx = ego[:, 0, None, None] + c * cx[None, :, None] - s * cy[None, None, :]  # (T, X, Y)
    wy = ego[:, 1, None, None] + s * cx[None, :, None] + c * cy[None, None, :]
    return world.sample(wx, wy)


def rasterize_actors(
    actors: Actors, ego: np.ndarray, grid: GridSpec, world: WorldMap
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Actor layers of every frame: class (T, X, Y) uint8 and its height range lo, hi (T, X, Y) float32,
    and (N,) bool, whether each actor covers a column in at least one frame.

    Each actor stands on the world surface under its centre: its voxels start above the surface voxel,
    its height counts from the surface top.
    """
    t_count, (nx, ny, _) = len(ego), grid.shape
    cls = np.zeros((t_count, nx, ny), np.uint8)
    lo, hi = np.zeros((2, t_count, nx, ny), np.float32)
    seen = np.zeros(len(actors.cls), bool)
    cx, cy, _ = voxel_centres(grid)
    (vx, vy, _), (x0, y0, _, x1, y1, _) = grid.voxel_size, grid.extent
    rel = to_ego(actors.xyyaw[..., :2], ego)  # (T, N, 2)
    yaw = actors.xyyaw[..., 2] - ego[:, 2, None]  # (T, N)
    base = world.sample(actors.xyyaw[..., 0], actors.xyyaw[..., 1])["surf_top"]  # (T, N)
    radius = np.hypot(actors.half[:, 0], actors.half[:, 1])  # (N,)
    near = (np.abs(rel[..., 0] - (x0 + x1) / 2) < radius + (x1 - x0) / 2) & (
        np.abs(rel[..., 1] - (y0 + y1) / 2) < radius + (y1 - y0) / 2
    )
    for t, n in zip(*np.nonzero(near), strict=True):
        si = _cells(rel[t, n, 0], radius[n], x0, vx, nx)
        sj = _cells(rel[t, n, 1], radius[n], y0, vy, ny)
        inside = _in_box(cx[si, None] - rel[t, n, 0], cy[None, sj] - rel[t, n, 1], yaw[t, n], actors.half[n])
        if inside.any():
            seen[n] = True
            cls[t, si, sj][inside] = actors.cls[n]
            lo[t, si, sj][inside] = base[t, n] + world.above
            hi[t, si, sj][inside] = base[t, n] + actors.height[n]
    return cls, lo, hi, seen


def _cells(centre: float, radius: float, start: float, size: float, count: int) -> slice:
    """Indices of the voxels along one axis (first edge `start`, `size` apart, `count` of them) whose
    centres may lie within `radius` of `centre`."""
    return slice(
        max(0, int((centre - radius - start) // size)), min(count, int((centre + radius - start) // size) + 1)
    )


def _in_box(dx: np.ndarray, dy: np.ndarray, yaw: float, half: np.ndarray) -> np.ndarray:
    """bool: offsets dx, dy (broadcastable) from a box centre lie inside the box of heading `yaw` and
    half-sizes half = (along, across)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return (np.abs(c * dx + s * dy) < half[0]) & (np.abs(-s * dx + c * dy) < half[1])


def compose(
    static: dict[str, np.ndarray], actor: tuple[np.ndarray, ...], z: np.ndarray, vz: float
) -> np.ndarray:
    """Voxel labels (T, X, Y, Z) uint8 from column layers (T, X, Y) and voxel-centre heights z (Z,),
    evenly spaced by vz, in world metres. Later layers win: surface, elevated (canopy, roof), column, actors.

    A layer spanning [lo, hi) covers voxel k when lo <= z[k] < hi, i.e. ceil((lo - z0) / vz) <= k <
    ceil((hi - z0) / vz); the comparisons run on small integers to save memory traffic.
    """
    act_cls, act_lo, act_hi = actor[:3]
    k = np.arange(len(z), dtype=np.int8)

    def within(low: np.ndarray, high: np.ndarray) -> np.ndarray:
        first, stop = (np.clip(np.ceil((b - z[0]) / vz), -1, len(z)).astype(np.int8) for b in (low, high))
        return (k >= first[..., None]) & (k < stop[..., None])  # (T, X, Y, Z) bool

    top = static["surf_top"]
    surface = within(top - SURFACE_BELOW * vz, top + SURFACE_ABOVE * vz)
    labels = np.where(surface, static["surf_cls"][..., None], np.uint8(0))
    for cls, low, high in (
        (static["up_cls"], static["up_lo"], static["up_hi"]),
        (static["col_cls"], static["col_lo"], static["col_hi"]),
        (act_cls, act_lo, act_hi),
    ):
        np.copyto(labels, cls[..., None], where=within(low, high))
    return labels


def voxelize(
    world: WorldMap, actors: Actors, ego: np.ndarray, grid: GridSpec, ego_height: float
) -> tuple[np.ndarray, np.ndarray]:
    """Label frames (T, X, Y, Z) uint8 of the ego-centred grid, and the (N,) bool actors that appear.

    Args:
        ego: (T, 3) float64 world x, y, yaw of the ego; ego_height: height of the ego frame's origin
            above the ground (m), so a voxel at ego-frame z lies at world height z + ego_height.
    """
    _, _, cz = voxel_centres(grid)
    static = sample_static(world, ego, grid)
    actor = rasterize_actors(actors, ego, grid, world)
    labels = compose(static, actor, (cz + ego_height).astype(np.float32), np.float32(world.vz))
    return labels, actor[3]


def inside_grid(xy: np.ndarray, ego: np.ndarray, grid: GridSpec) -> np.ndarray:
    """(N,) bool: world points xy (N, 2) fall within the grid's xy extent in at least one frame."""
    rel = to_ego(np.broadcast_to(xy, (len(ego), *xy.shape)), ego)  # (T, N, 2)
    x0, y0, _, x1, y1, _ = grid.extent
    inside = (rel[..., 0] >= x0) & (rel[..., 0] < x1) & (rel[..., 1] >= y0) & (rel[..., 1] < y1)
    return inside.any(axis=0)
