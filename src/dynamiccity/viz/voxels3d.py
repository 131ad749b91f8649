"""A shaded perspective view of a voxel grid by ray casting, vectorised over all pixels.

Each pixel's ray is clipped to the grid's box and walked cell by cell (Amanatides & Woo's DDA,
"A Fast Voxel Traversal Algorithm", 1987) until it enters an occupied voxel, so occlusion is exact and
faces have no holes. The walk advances all live rays together; a ray leaves the batch when it hits or
exits the box, so one frame costs about (number of pixels) x (cells crossed per ray) array operations.

Geometry is in index space: voxel (i, j, k) is the unit cube [i, i+1] x [j, j+1] x [k, k+1], so a
voxel is drawn as tall as it is wide whatever its metric size. Axes follow the labels: x forward (ego
heading), y left, z up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynamiccity.data.classes import COLORMAP, FREE

BACKGROUND = np.array((245, 245, 245), dtype=np.uint8)
"""RGB of pixels whose ray meets no occupied voxel."""

# Brightness of a face by its outward normal, as [axis, normal points to +axis]: top brightest, the
# faces towards +y (seen on the right of the image) lighter than those towards -y, x faces darkest.
_FACE_SHADE = np.array([[0.66, 0.72], [0.60, 0.84], [0.50, 1.0]])
_EDGE_SHADE = 0.72  # brightness factor on outlines (where a face meets free space or another class)
_EDGE_PIXELS = 0.7  # outline half-width in pixels
_EDGE_MAX = 0.12  # ... but at most this fraction of a voxel, for close views


@dataclass(frozen=True)
class Camera:
    """A perspective camera placed relative to the grid, so one default fits grids of any size.

    Attributes:
        elevation_deg: angle of the view direction below the horizon.
        azimuth_deg: heading of the view direction, counter-clockwise from +x about +z; 0 looks along
            the ego heading from behind the ego.
        distance: camera-to-target distance in units of the grid's larger horizontal side max(X, Y).
        fov_deg: vertical field of view.
        target: the look-at point (image centre) as fractions of the grid's (X, Y, Z) extent.
    """

    elevation_deg: float = 42.0
    azimuth_deg: float = 0.0
    distance: float = 1.25
    fov_deg: float = 45.0
    target: tuple[float, float, float] = (0.56, 0.5, 0.0)


@dataclass(frozen=True)
class _Frame:
    """A camera resolved for one grid and image: position and orthonormal basis in index space."""

    origin: np.ndarray  # (3,) float64
    forward: np.ndarray  # (3,) float64, view direction
    right: np.ndarray  # (3,) float64, image +column direction
    up: np.ndarray  # (3,) float64, image -row direction
    tan_y: float  # tan(fov / 2), half the image height at depth 1
    tan_x: float  # tan_y * W / H


def _resolve(camera: Camera, shape: tuple[int, int, int], size: tuple[int, int]) -> _Frame:
    """Place `camera` for a grid of `shape` (X, Y, Z) and an image of `size` (W, H)."""
    el, az = np.radians(camera.elevation_deg), np.radians(camera.azimuth_deg)
    forward = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), -np.sin(el)])
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    target = np.asarray(camera.target, dtype=np.float64) * np.asarray(shape, dtype=np.float64)
    origin = target - camera.distance * max(shape[0], shape[1]) * forward
    tan_y = float(np.tan(np.radians(camera.fov_deg) / 2))
    return _Frame(origin, forward, right, up, tan_y, tan_y * size[0] / size[1])


def project(
    points: np.ndarray, shape: tuple[int, int, int], size: tuple[int, int] = (512, 384), camera: Camera | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Image positions of index-space points, as `render_3d` draws them.

    Args:
        points: (N, 3) float, index-space positions (the centre of voxel (i, j, k) is (i+.5, j+.5, k+.5)).
        shape: the grid's (X, Y, Z); size: the image's (W, H); camera: as in `render_3d`.

    Returns:
        (N, 2) float64 (row, column) pixel coordinates (pixel centres are integers) and (N,) float64
        depth along the view direction (positive in front of the camera).
    """
    frame = _resolve(camera or Camera(), shape, size)
    rel = np.asarray(points, dtype=np.float64) - frame.origin
    depth = rel @ frame.forward
    col = ((rel @ frame.right) / (depth * frame.tan_x) + 1) / 2 * size[0] - 0.5
    row = (1 - (rel @ frame.up) / (depth * frame.tan_y)) / 2 * size[1] - 0.5
    return np.stack([row, col], axis=1), depth


def _pixel_rays(frame: _Frame, size: tuple[int, int]) -> np.ndarray:
    """(H*W, 3) float64 ray directions through pixel centres, row-major, scaled to unit depth."""
    w, h = size
    u = ((np.arange(w) + 0.5) / w * 2 - 1) * frame.tan_x  # (W,)
    v = (1 - (np.arange(h) + 0.5) / h * 2) * frame.tan_y  # (H,)
    rays = frame.forward + u[None, :, None] * frame.right + v[:, None, None] * frame.up  # (H, W, 3)
    return rays.reshape(-1, 3)


def _clip_to_box(origin: np.ndarray, rays: np.ndarray, shape: tuple[int, int, int]):
    """Slab test of rays against the box [0, X] x [0, Y] x [0, Z].

    Returns (t_in, t_out, axis_in): (N,) float64 ray parameters where each ray enters and leaves the
    box (t_in >= 0; the ray misses where t_out <= t_in) and (N,) int64 axis of the entry face.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / rays  # (N, 3), inf where the ray is parallel to an axis
        t0 = (0.0 - origin) * inv
        t1 = (np.asarray(shape, dtype=np.float64) - origin) * inv
    near, far = np.fmin(t0, t1), np.fmax(t0, t1)
    axis_in = near.argmax(axis=1)
    t_in = np.maximum(np.take_along_axis(near, axis_in[:, None], 1)[:, 0], 0.0)
    return t_in, far.min(axis=1), axis_in


@dataclass
class _Rays:
    """The live state of a batch of rays during the walk, one entry per ray (all arrays (N,) or (N, 3))."""

    index: np.ndarray  # int64 pixel index of the ray
    cell: np.ndarray  # int64 flat index of the current cell in the padded grid
    t_next: np.ndarray  # (N, 3) float64 ray parameter of the next crossing along x, y, z
    t_step: np.ndarray  # (N, 3) float64 ray parameter between crossings along x, y, z
    stride: np.ndarray  # (N, 3) int64 signed flat-index step along x, y, z
    t_cell: np.ndarray  # float64 ray parameter where the ray entered the current cell
    axis: np.ndarray  # int64 axis of the face it entered through
    t_out: np.ndarray  # float64 ray parameter where it leaves the box

    def keep(self, mask: np.ndarray) -> _Rays:
        return _Rays(*(getattr(self, name)[mask] for name in self.__dataclass_fields__))


def _start(origin, rays, shape, strides) -> _Rays:
    """Set up the walk of every ray that meets the box, from the cell where it enters."""
    t_in, t_out, axis_in = _clip_to_box(origin, rays, shape)
    index = np.flatnonzero(t_out > t_in)
    d, t_in, t_out, axis_in = rays[index], t_in[index], t_out[index], axis_in[index]
    entry = origin + t_in[:, None] * d
    cell = np.clip(np.floor(entry), 0, np.asarray(shape) - 1).astype(np.int64)  # (N, 3)
    step = np.sign(d).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_next = np.where(step != 0, (cell + (step > 0) - origin) / d, np.inf)
        t_step = np.where(step != 0, np.abs(1.0 / d), np.inf)
    flat = (cell + 1) @ strides  # +1: the padded grid has a free border
    return _Rays(index, flat, t_next, t_step, step * strides, t_in, axis_in, t_out)


def _walk(grid: np.ndarray, rays: _Rays, num_pixels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Advance all rays until each hits an occupied cell or leaves the box.

    Args:
        grid: (Xp*Yp*Zp,) uint8 labels of the padded grid, flattened.

    Returns (cell, t_hit, axis), each (num_pixels,): int64 flat cell hit (-1 for a miss), float64 ray
    parameter of the face hit, int64 axis of that face.
    """
    hit_cell = np.full(num_pixels, -1, dtype=np.int64)
    t_hit = np.zeros(num_pixels)
    hit_axis = np.zeros(num_pixels, dtype=np.int64)
    while rays.index.size:
        hit = grid[rays.cell] != FREE
        hit_cell[rays.index[hit]] = rays.cell[hit]
        t_hit[rays.index[hit]] = rays.t_cell[hit]
        hit_axis[rays.index[hit]] = rays.axis[hit]
        rays = rays.keep(~hit)
        rows = np.arange(rays.index.size)
        axis = rays.t_next.argmin(axis=1)
        rays.t_cell = rays.t_next[rows, axis]
        rays.axis = axis
        rays.cell = rays.cell + rays.stride[rows, axis]
        rays.t_next[rows, axis] += rays.t_step[rows, axis]
        rays = rays.keep(rays.t_cell < rays.t_out)
    return hit_cell, t_hit, hit_axis


def _shade(grid, strides, frame, rays, cell, t_hit, axis, pixel_size) -> np.ndarray:
    """(N, 3) float64 colours of N hit pixels: class colour x face brightness x outline darkening.

    Args: grid/strides as in `_walk`; rays (N, 3) float64 ray directions of the hit pixels; cell, t_hit,
    axis (N,) their hits; pixel_size: the height of one pixel at unit depth.
    """
    label = grid[cell]
    rows = np.arange(cell.size)
    facing_pos = rays[rows, axis] < 0  # the ray travels against the face's outward normal
    shade = _FACE_SHADE[axis, facing_pos.astype(np.int64)]
    point = frame.origin + t_hit[:, None] * rays  # (N, 3) hit points on the face
    width = np.minimum(_EDGE_PIXELS * pixel_size * t_hit, _EDGE_MAX)
    cell_xyz = _unflatten(cell, strides)  # (N, 3) int64 padded cell coordinates
    frac = point - (cell_xyz - 1)  # (N, 3) position inside the cell, in [0, 1]
    outline = np.zeros(cell.size, dtype=bool)
    for offset in (1, 2):
        b = (axis + offset) % 3  # one of the two in-face axes
        fb = frac[rows, b]
        side = np.where(fb < 0.5, -1, 1)
        near_edge = np.minimum(fb, 1 - fb) < width
        neighbour = grid[cell + side * strides[b]]
        outline |= near_edge & (neighbour != label)
    shade = np.where(outline, shade * _EDGE_SHADE, shade)
    return COLORMAP[label].astype(np.float64) * shade[:, None]


def _unflatten(flat: np.ndarray, strides: np.ndarray) -> np.ndarray:
    """(N, 3) int64 cell coordinates of flat indices into a C-ordered grid with these strides."""
    x, rest = np.divmod(flat, strides[0])
    y, z = np.divmod(rest, strides[1])
    return np.stack([x, y, z], axis=1)


def render_3d(
    labels: np.ndarray,
    valid: np.ndarray | None = None,
    size: tuple[int, int] = (512, 384),
    camera: Camera | None = None,
) -> np.ndarray:
    """A shaded perspective view of one occupancy grid.

    Args:
        labels: (X, Y, Z) uint8 common class ids; FREE voxels are empty.
        valid: (X, Y, Z) bool or None; voxels where it is False are drawn as free.
        size: image (W, H) in pixels.
        camera: the view; None is `Camera()` (behind and above the ego, looking forward and down).

    Returns:
        (H, W, 3) uint8 RGB image; `BACKGROUND` where no voxel is seen.
    """
    _check_grid(labels, valid)
    w, h = size
    occupied = labels if valid is None else np.where(valid, labels, FREE)
    grid = np.pad(occupied, 1).ravel()  # free border: walks never index outside the array
    padded = np.asarray(labels.shape) + 2
    strides = np.array([padded[1] * padded[2], padded[2], 1])
    frame = _resolve(camera or Camera(), labels.shape, size)
    rays = _pixel_rays(frame, size)
    cell, t_hit, axis = _walk(grid, _start(frame.origin, rays, labels.shape, strides), h * w)
    hit = np.flatnonzero(cell >= 0)
    image = np.empty((h * w, 3), dtype=np.float64)
    image[:] = BACKGROUND
    pixel_size = 2 * frame.tan_y / h
    image[hit] = _shade(grid, strides, frame, rays[hit], cell[hit], t_hit[hit], axis[hit], pixel_size)
    return np.round(image).astype(np.uint8).reshape(h, w, 3)


def _check_grid(labels: np.ndarray, valid: np.ndarray | None) -> None:
    """Raise ValueError unless labels is (X, Y, Z) uint8 of known classes and valid matches it."""
    if labels.ndim != 3 or labels.dtype != np.uint8:
        raise ValueError(f"labels must be (X, Y, Z) uint8, got {labels.shape} {labels.dtype}")
    if labels.size and int(labels.max()) >= len(COLORMAP):
        raise ValueError(f"class id {int(labels.max())} has no colour (ids 0..{len(COLORMAP) - 1})")
    if valid is not None and valid.shape != labels.shape:
        raise ValueError(f"valid mask shape {valid.shape} != labels shape {labels.shape}")
