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
from dynamiccity.viz.bev import check_grid

BACKGROUND = np.array((245, 245, 245), dtype=np.uint8)
"""RGB of pixels whose ray meets no occupied voxel."""

# Brightness of a face by its outward normal, as [axis, normal points to +axis]: top faces brightest,
# side faces turned towards the sun (ahead and to the left, as for shadows) lighter than those turned away.
_FACE_SHADE = np.array([[0.66, 0.72], [0.60, 0.84], [0.50, 1.0]])
_EDGE_SHADE = 0.72  # brightness factor on outlines (where a face meets free space or another class)
_EDGE_PIXELS = 0.7  # outline half-width in pixels
_EDGE_MAX = 0.12  # ... but at most this fraction of a voxel, for close views
_SEAM_SHADE = 0.88  # brightness factor on the seams between voxels of one class ...
_SEAM_PIXELS = 6.0  # ... fading in from voxels this many pixels wide to twice as wide
_SHADOW_SHADE = 0.72  # brightness factor on top faces in the shadow of taller voxels ...
_SUN_AZIMUTH_DEG = 50.0  # ... from a sun ahead and to the left (counter-clockwise from +x) ...
_SUN_ELEVATION_DEG = 50.0  # ... this high above the horizon


@dataclass(frozen=True)
class Camera:
    """A perspective camera placed relative to the grid, so that one default frames whole grids of any
    size with Z much smaller than X and Y (128x128x8, 200x200x16, 64x64x8).

    Attributes:
        elevation_deg: angle of the view direction below the horizon.
        azimuth_deg: heading of the view direction, counter-clockwise from +x about +z; 0 looks along
            the ego heading from behind the ego.
        distance: camera-to-target distance in units of the grid's larger horizontal side max(X, Y).
        fov_deg: vertical field of view.
        target: the look-at point (image centre) as fractions of the grid's (X, Y, Z) extent.
    """

    elevation_deg: float = 45.0
    azimuth_deg: float = 0.0
    distance: float = 1.5
    fov_deg: float = 40.0
    target: tuple[float, float, float] = (0.44, 0.5, 0.0)

    def __post_init__(self) -> None:
        if not (abs(self.elevation_deg) < 90 and 0 < self.fov_deg < 180 and self.distance > 0):
            raise ValueError(f"need |elevation_deg| < 90, 0 < fov_deg < 180 and distance > 0, got {self}")


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
    points: np.ndarray,
    shape: tuple[int, int, int],
    size: tuple[int, int] = (512, 384),
    camera: Camera | None = None,
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
    """(3, H*W) float64 ray directions through pixel centres, row-major, scaled to unit depth."""
    w, h = size
    u = ((np.arange(w) + 0.5) / w * 2 - 1) * frame.tan_x  # (W,)
    v = (1 - (np.arange(h) + 0.5) / h * 2) * frame.tan_y  # (H,)
    rays = (
        frame.forward[:, None, None] + u * frame.right[:, None, None] + v[:, None] * frame.up[:, None, None]
    )
    return rays.reshape(3, -1)  # (3, H, W) -> (3, H*W)


def _clip_to_box(origin: np.ndarray, rays: np.ndarray, shape: tuple[int, int, int]):
    """Slab test of rays against the box [0, X] x [0, Y] x [0, Z].

    Args: origin (3,) float64; rays (3, N) float64 directions; shape the grid's (X, Y, Z).

    Returns (t_in, t_out): (N,) float64 ray parameters where each ray enters and leaves the box
    (t_in >= 0; the ray misses where t_out <= t_in).
    """
    o = origin[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / rays  # (3, N), inf where the ray is parallel to an axis
        t0 = (0.0 - o) * inv
        t1 = (np.asarray(shape, dtype=np.float64)[:, None] - o) * inv
    near, far = np.fmin(t0, t1), np.fmax(t0, t1)
    t_in = np.maximum(np.maximum(np.maximum(near[0], near[1]), near[2]), 0.0)
    return t_in, np.minimum(np.minimum(far[0], far[1]), far[2])


@dataclass
class _Rays:
    """The live rays of a walk, each field (N,) with one entry per ray; per-axis fields end in x, y, z."""

    index: np.ndarray  # int64 pixel index of the ray
    cell: np.ndarray  # int64 flat index of the current cell in the padded grid
    t_out: np.ndarray  # float32 ray parameter where the ray leaves the box
    tx: np.ndarray  # float32 ray parameter of the next cell boundary crossed along x (ty, tz alike)
    ty: np.ndarray
    tz: np.ndarray
    dx: np.ndarray  # float32 ray parameter between two boundaries along x (dy, dz alike)
    dy: np.ndarray
    dz: np.ndarray
    sx: np.ndarray  # int64 signed flat-index step of a move along x (sy, sz alike)
    sy: np.ndarray
    sz: np.ndarray

    def keep(self, mask: np.ndarray) -> _Rays:
        """The rays where `mask` (N,) bool is True."""
        return _Rays(*(getattr(self, name).compress(mask) for name in self.__dataclass_fields__))


def _start(origin: np.ndarray, rays: np.ndarray, shape: tuple[int, int, int], strides: np.ndarray) -> _Rays:
    """Set up the walk of every ray that meets the box, from the cell where it enters.

    Args: origin (3,) float64 camera position; rays (3, P) float64 directions; shape the grid's (X, Y, Z);
    strides (3,) int64 flat-index strides of the padded grid.
    """
    t_in, t_out = _clip_to_box(origin, rays, shape)
    index = np.flatnonzero(t_out > t_in)
    d, t_in, o = rays[:, index], t_in[index], origin[:, None]  # (3, N), (N,), (3, 1)
    cell = np.floor(o + t_in * d).clip(0, np.asarray(shape)[:, None] - 1).astype(np.int64)  # (3, N)
    step = np.sign(d).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_next = np.where(step != 0, (cell + (step > 0) - o) / d, np.inf).astype(np.float32)
        t_step = np.where(step != 0, np.abs(1.0 / d), np.inf).astype(np.float32)
    flat = strides @ (cell + 1)  # +1: the padded grid has a free border
    move = step * strides[:, None]
    t_out = t_out[index].astype(np.float32)
    return _Rays(index, flat, t_out, *t_next, *t_step, *move)


def _walk(grid: np.ndarray, rays: _Rays, num_pixels: int) -> np.ndarray:
    """Advance all rays cell by cell until each enters an occupied cell or leaves the box.

    Args:
        grid: (Xp*Yp*Zp,) uint8 labels of the padded grid, flattened.
        rays: the rays at the cells where they enter the box.
        num_pixels: the number of pixels P.

    Returns:
        (P,) int64 flat index of the occupied cell each pixel's ray meets first, -1 where it meets none.
    """
    hit_cell = np.full(num_pixels, -1, dtype=np.int64)
    hit = grid[rays.cell] != FREE
    hit_cell[rays.index[hit]] = rays.cell[hit]
    rays = rays.keep(~hit)
    while rays.index.size:
        r = rays
        along_x = (r.tx <= r.ty) & (r.tx <= r.tz)
        along_y = ~along_x & (r.ty <= r.tz)
        along_z = ~(along_x | along_y)
        inside = np.minimum(np.minimum(r.tx, r.ty), r.tz) < r.t_out
        for t, dt, s, along in (
            (r.tx, r.dx, r.sx, along_x),
            (r.ty, r.dy, r.sy, along_y),
            (r.tz, r.dz, r.sz, along_z),
        ):
            np.add(r.cell, s, out=r.cell, where=along)
            np.add(t, dt, out=t, where=along)
        hit = inside & (grid.take(r.cell, mode="clip") != FREE)
        hit_cell[r.index[hit]] = r.cell[hit]
        rays = r.keep(inside & ~hit)
    return hit_cell


def _entry_face(origin: np.ndarray, rays: np.ndarray, cell_xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where rays enter their cells: (N,) float64 ray parameter and (N,) int64 axis of the entry face.

    Args: origin (3,) float64; rays (N, 3) float64 directions; cell_xyz (N, 3) int64 cell coordinates.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        near = np.where(rays != 0, (cell_xyz + (rays < 0) - origin) / rays, -np.inf)  # (N, 3)
    axis = near.argmax(axis=1)
    return np.take_along_axis(near, axis[:, None], 1)[:, 0], axis


def _shade(
    grid: np.ndarray,
    strides: np.ndarray,
    shadow_top: np.ndarray,
    frame: _Frame,
    rays: np.ndarray,
    cell: np.ndarray,
    pixel: float,
) -> np.ndarray:
    """(N, 3) float64 colours of N hit pixels: class colour x face brightness x outlines x shadow.

    Args:
        grid, strides: the flattened padded grid and its (3,) int64 strides, as in `_walk`.
        shadow_top: (Xp, Yp) float64 from `_shadow_tops` of the padded grid.
        frame: the camera; rays: (N, 3) float64 directions of the hit pixels' rays.
        cell: (N,) int64 flat index of the cell each ray hits.
        pixel: the height of one pixel at unit depth, for outlines about one pixel wide.
    """
    label = grid[cell]
    xyz = _unflatten(cell, strides)  # (N, 3) int64 cell coordinates in the padded grid
    t_hit, axis = _entry_face(frame.origin, rays, xyz - 1)
    rows = np.arange(cell.size)
    outward = (rays[rows, axis] < 0).astype(np.int64)  # 1 where the face's normal points to +axis
    shade = _FACE_SHADE[axis, outward]
    frac = frame.origin + t_hit[:, None] * rays - (xyz - 1)  # (N, 3) hit point inside the cell, in [0, 1]
    shade *= _edge_shade(grid, strides, cell, axis, frac, pixel * t_hit)
    lit = (axis != 2) | (outward == 0) | (shadow_top[xyz[:, 0], xyz[:, 1]] <= xyz[:, 2])
    shade = np.where(lit, shade, shade * _SHADOW_SHADE)
    return COLORMAP[label].astype(np.float64) * shade[:, None]


def _edge_shade(
    grid: np.ndarray,
    strides: np.ndarray,
    cell: np.ndarray,
    axis: np.ndarray,
    frac: np.ndarray,
    voxel_per_pixel: np.ndarray,
) -> np.ndarray:
    """(N,) float64 brightness factors darkening outlines (a face's edge towards free space or another
    class) and, in close views, the seams between voxels of one class.

    Args: grid, strides, cell as in `_shade`; axis (N,) int64 axis of the face hit; frac (N, 3) float64
    hit point inside the cell; voxel_per_pixel (N,) float64 size of one pixel at the hit, in voxels.
    """
    rows = np.arange(cell.size)
    width = np.minimum(_EDGE_PIXELS * voxel_per_pixel, _EDGE_MAX)
    outline = np.zeros(cell.size, dtype=bool)
    seam = np.zeros(cell.size, dtype=bool)
    for offset in (1, 2):
        b = (axis + offset) % 3  # one of the two axes along the face
        fb = frac[rows, b]
        neighbour = grid[cell + np.where(fb < 0.5, -1, 1) * strides[b]]  # across the nearer edge
        near_edge = np.minimum(fb, 1 - fb) < width
        outline |= near_edge & (neighbour != grid[cell])
        seam |= near_edge
    fade_in = np.clip(1 / (voxel_per_pixel * _SEAM_PIXELS) - 1, 0, 1)  # 0 below, 1 at twice _SEAM_PIXELS
    return np.where(outline, _EDGE_SHADE, np.where(seam, 1 - (1 - _SEAM_SHADE) * fade_in, 1.0))


def _shadow_tops(occupied: np.ndarray) -> np.ndarray:
    """(Xp, Yp) float64 height below which top faces lie in shadow, per column of the padded grid.

    The sun shines from `_SUN_AZIMUTH_DEG`, `_SUN_ELEVATION_DEG`; each column is tested against the
    highest occupied voxel of the columns on the way to the sun (overhangs are ignored).

    Args: occupied: (Xp, Yp, Zp) bool padded grid.
    """
    x_size, y_size, z_size = occupied.shape
    top = np.where(occupied.any(axis=2), z_size - 1 - occupied[:, :, ::-1].argmax(axis=2), -np.inf)
    az, rise = np.radians(_SUN_AZIMUTH_DEG), np.tan(np.radians(_SUN_ELEVATION_DEG))
    x, y = np.arange(x_size)[:, None], np.arange(y_size)[None, :]
    shadow = np.full((x_size, y_size), -np.inf)
    for s in range(1, int(np.ceil(z_size / rise)) + 1):  # horizontal distance towards the sun
        xs, ys = x + round(s * np.cos(az)), y + round(s * np.sin(az))
        inside = (xs >= 0) & (xs < x_size) & (ys >= 0) & (ys < y_size)
        shade_top = np.where(inside, top[xs.clip(0, x_size - 1), ys.clip(0, y_size - 1)], -np.inf) - s * rise
        shadow = np.maximum(shadow, shade_top)
    return shadow


def _unflatten(flat: np.ndarray, strides: np.ndarray) -> np.ndarray:
    """(N, 3) int64 cell coordinates of flat indices into a C-ordered grid with these (3,) strides."""
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
    check_grid(labels, valid)
    w, h = size
    if w < 1 or h < 1:
        raise ValueError(f"size must be positive (W, H), got {size}")
    occupied = labels if valid is None else np.where(valid, labels, FREE)
    padded = np.pad(occupied, 1)  # (X+2, Y+2, Z+2) free border: a step off the grid reads a free cell
    grid = padded.ravel()
    strides = np.array([padded.shape[1] * padded.shape[2], padded.shape[2], 1])
    frame = _resolve(camera or Camera(), labels.shape, size)
    rays = _pixel_rays(frame, size)
    cell = _walk(grid, _start(frame.origin, rays, labels.shape, strides), h * w)
    hit = np.flatnonzero(cell >= 0)
    image = np.empty((h * w, 3), dtype=np.float64)
    image[:] = BACKGROUND
    shadow_top = _shadow_tops(padded != FREE)
    image[hit] = _shade(grid, strides, shadow_top, frame, rays[:, hit].T, cell[hit], 2 * frame.tan_y / h)
    return np.round(image).astype(np.uint8).reshape(h, w, 3)
