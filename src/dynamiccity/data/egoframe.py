"""Windows between the ego's coordinates and the world's: the rigid, planar moves of voxel grids.

A window is recorded in ego coordinates: each frame's grid is centred on the ego where it is in that
frame, so when the ego drives, the whole static world slides through the grid. In world coordinates every
frame is seen from where the ego was in the window's first frame: the static world stands still and only
moving actors move. `to_world` takes a window there and `to_ego` brings it back along an ego path, so a
generator can draw a still world and leave the ego's motion to geometry (docs/conditions.md, "The ego's
motion rendered").

The moves are planar (x, y, yaw: the ego path of `derive.ego_trajectory`, in the first frame's ego frame),
nearest-neighbour at voxel centres, on a grid of metric extent [x0, y0, z0, x1, y1, z1] around the ego.
"""

from __future__ import annotations

import numpy as np

from dynamiccity.data.classes import FREE

Extent = tuple[float, float, float, float, float, float]
Grid = tuple[tuple[int, int, int], Extent]
"""A grid's shape (X, Y, Z) and extent."""
COORDINATES = ("ego", "world", "centred")
"""Where a window is seen from: the ego of each frame (as recorded), the ego of the window's first frame
("world") or the ego of its middle frame ("centred", `world_anchor`). Seen from the middle, a driving ego
looks half as far beyond the window at either end and a turn is rotated half as far: on 24 fresh 8-frame
SynthTown windows, a window taken to world coordinates and back to the ego's keeps 0.943 mIoU from the
middle frame and 0.903 from the first (docs/records/2026-12-07-vae-world-1k-and-refinement.md)."""


def is_world(coordinates: str) -> bool:
    """Whether windows seen from `coordinates` are seen from one ego pose throughout."""
    return coordinates != "ego"


def world_anchor(coordinates: str, frames: int) -> int:
    """The frame (of a window of `frames`) whose ego a window in world `coordinates` is seen from."""
    if coordinates not in COORDINATES or not is_world(coordinates):
        raise ValueError(f"{coordinates!r} are not world coordinates; choose world or centred.")
    return frames // 2 if coordinates == "centred" else 0


def anchored(path: np.ndarray, anchor: int) -> np.ndarray:
    """A path (T, 3) in its first frame's ego frame, re-expressed in the ego frame of its frame `anchor`
    (returned as it is for anchor 0), the path along which a window seen from that frame is shown."""
    if anchor == 0:
        return path
    poses = path_poses(path)
    return path_in(poses, poses[anchor])


def path_poses(path: np.ndarray) -> np.ndarray:
    """(T, 3) ego x, y, yaw in the first frame's ego frame -> (T, 4, 4) planar ego-to-first-frame poses."""
    x, y, yaw = path[:, 0], path[:, 1], path[:, 2]
    poses = np.broadcast_to(np.eye(4), (len(path), 4, 4)).copy()
    cos, sin = np.cos(yaw), np.sin(yaw)
    poses[:, 0, 0], poses[:, 0, 1], poses[:, 1, 0], poses[:, 1, 1] = cos, -sin, sin, cos
    poses[:, 0, 3], poses[:, 1, 3] = x, y
    return poses


def with_heading(path: np.ndarray) -> np.ndarray:
    """A (T, 2) path of ego x, y in the first frame's ego frame -> (T, 3) with the yaw of the direction of
    travel (the ego drives forward); a (T, 3) path is returned as it is.

    Frame 0 heads along +x (it is the frame the path is expressed in). Frame t heads along the chord from
    frame t - 1 to frame t + 1 (the last frame: from t - 1 to t); while the ego stands (a chord under 5 cm)
    it keeps the heading it had."""
    if path.shape[1] == 3:
        return path.astype(np.float32)
    yaw = np.zeros(len(path))
    for t in range(1, len(path)):
        chord = path[min(t + 1, len(path) - 1)] - path[t - 1]
        yaw[t] = np.arctan2(chord[1], chord[0]) if np.hypot(*chord) >= 0.05 else yaw[t - 1]
    return np.concatenate([path, yaw[:, None]], axis=1).astype(np.float32)


def poses_after(poses: np.ndarray, frames: int) -> np.ndarray:
    """The ego poses (frames, 4, 4) that follow `poses` (T >= 2, 4, 4), each step repeating the last one's
    motion (its speed and turn rate), in the coordinates of `poses`."""
    step, out = np.linalg.inv(poses[-2]) @ poses[-1], [poses[-1]]
    for _ in range(frames):
        out.append(out[-1] @ step)
    return np.stack(out[1:])


def pose_after(path: np.ndarray) -> np.ndarray:
    """The ego pose (4, 4) one frame after a path (T >= 2, 3) ends, at the last step's speed and turn rate:
    where the next window's first frame is, in the coordinates of the path."""
    return poses_after(path_poses(path), 1)[0]


def chained_poses(paths: np.ndarray) -> np.ndarray:
    """The ego poses (W * T, 4, 4) of a scene grown window by window along `paths` (W, T, 3), each window's
    path in its own first frame's coordinates and each window starting where the last one's path goes
    next (`pose_after`); in the coordinates of the first window's first frame."""
    start, poses = np.eye(4), []
    for path in paths:
        poses.append(start @ path_poses(path))
        start = start @ pose_after(path)
    return np.concatenate(poses)


def _corner(shape: tuple[int, ...], extent: Extent) -> tuple[np.ndarray, np.ndarray]:
    """A grid's lower corner and voxel size, (3,) each."""
    lo, hi = np.array(extent[:3]), np.array(extent[3:])
    return lo, (hi - lo) / np.array(shape)


def _positions(shape: tuple[int, ...], moves: np.ndarray, extent: Extent, source: Grid | None) -> np.ndarray:
    """Where (M, N, 3), in voxel units of the grid read from (`source`, shape and extent; None: the same
    grid), each voxel centre of the grid (`shape`, `extent`) lands under each move (M, 4, 4)."""
    lo, size = _corner(shape, extent)
    idx = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), axis=-1).reshape(-1, 3)
    centres = np.concatenate([lo + (idx + 0.5) * size, np.ones((len(idx), 1))], axis=1)  # (N, 4)
    src_lo, src_size = _corner(*((shape, extent) if source is None else source))
    return ((centres @ np.swapaxes(moves, 1, 2))[..., :3] - src_lo) / src_size


def _cells(shape: tuple[int, ...], moves: np.ndarray, extent: Extent, source: Grid | None) -> np.ndarray:
    """The cell (M, N, 3) int64 that each voxel centre lands in (as `_positions`)."""
    return np.floor(_positions(shape, moves, extent, source)).astype(np.int64)


def lookup(
    shape: tuple[int, int, int], moves: np.ndarray, extent: Extent, source: Grid | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Where each voxel of a grid lands under each move: flat indices (M, N) into the grid it is read from
    and whether it lands inside (M, N). `moves` (M, 4, 4) take a voxel centre of the grid being filled
    (`shape`, `extent`) to the coordinates of the grid it is read from: `source` (its shape and extent, in
    the same coordinates and of the same voxel size) or, by default, a grid like the one being filled."""
    src_shape = np.array(shape if source is None else source[0])
    cells = _cells(shape, moves, extent, source)
    inside = np.all((cells >= 0) & (cells < src_shape), axis=-1)
    flat = np.ravel_multi_index(tuple(np.clip(cells, 0, src_shape - 1).transpose(2, 0, 1)), tuple(src_shape))
    return flat, inside


def aligned_lookup(
    shape: tuple[int, int, int], moves: np.ndarray, extent: Extent
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each voxel of a grid is seen best among several grids like it: `moves` (M, 4, 4) take a voxel
    centre to the coordinates of each of M grids (frames seen from different poses). A voxel is read from
    the grid in which it lands nearest to a voxel centre (in x and y, the moves being planar; the latest of
    equals), where nearest-neighbour reading moves it least. Returns that grid's index (N,), the flat index
    into it (N,) and whether any grid holds the voxel (N,)."""
    pos = _positions(shape, moves, extent, None)  # (M, N, 3)
    cells = np.floor(pos).astype(np.int64)
    inside = np.all((cells >= 0) & (cells < np.array(shape)), axis=-1)
    off = np.abs(pos - cells - 0.5)[..., :2].max(-1)  # 0 at a voxel centre, 0.5 at its edge
    off = np.where(inside, off, np.inf)[::-1]  # latest first: argmin takes the first of equals
    which = len(moves) - 1 - off.argmin(0)
    cell = np.clip(cells[which, np.arange(cells.shape[1])], 0, np.array(shape) - 1)
    return which, np.ravel_multi_index(tuple(cell.T), shape), inside.any(0)


def beyond(
    shape: tuple[int, int, int], path: np.ndarray, extent: Extent, view: Grid | None = None
) -> dict[str, int]:
    """How many voxels beyond each side (+x, -x, +y, -y) of a world window (`shape`, `extent`) the ego looks
    along `path` (T, 3): the strips its frames see that the window does not hold. `view`: the grid each
    frame sees (shape, extent; default: the window's own; a widened window's is the recorded one)."""
    view_shape, view_extent = (shape, extent) if view is None else view
    poses = path_poses(path)
    cells = _cells((*view_shape[:2], 1), poses, view_extent, (shape, extent))  # planar moves: one layer
    x, y, (nx, ny) = cells[..., 0], cells[..., 1], shape[:2]
    return {
        "+x": max(int(x.max()) - nx + 1, 0),
        "-x": max(-int(x.min()), 0),
        "+y": max(int(y.max()) - ny + 1, 0),
        "-y": max(-int(y.min()), 0),
    }


def moved(frame: np.ndarray, move: np.ndarray, extent: Extent, fill: int = FREE) -> np.ndarray:
    """One grid (X, Y, Z) seen through `move` (4, 4): each voxel centre is taken by `move` into the grid's
    coordinates and given the label it lands on; `fill` where it lands outside."""
    flat, inside = lookup(frame.shape, move[None], extent)
    out = np.full(frame.size, fill, dtype=frame.dtype)
    out[inside[0]] = frame.reshape(-1)[flat[0, inside[0]]]
    return out.reshape(frame.shape)


def _check(window: np.ndarray, path: np.ndarray) -> None:
    if window.ndim != 4 or path.ndim != 2 or path.shape != (window.shape[0], 3):
        raise ValueError(
            f"moving a window (T, X, Y, Z) needs an ego path (T, 3) of x, y, yaw; got a window of shape "
            f"{window.shape} and a path of shape {path.shape}."
        )
    if not np.isfinite(path).all():
        raise ValueError("moving a window needs a finite ego path; this one holds NaN (no ego poses?).")


def to_world(
    window: np.ndarray, path: np.ndarray, extent: Extent, fill_back: bool = False, world: Grid | None = None
) -> np.ndarray:
    """A window (T, X, Y, Z) in ego coordinates -> the same window seen from one ego pose throughout.
    `path` (T, 3) holds each frame's ego pose in the coordinates of that pose: its own first frame's for a
    window's `ego_trajectory` (path[0] = 0, the window in world coordinates), another of its frames' for a
    window seen from there (`anchored`), or, for the window before another, that window's first frame's
    (`path_in`). A voxel that frame t does not see keeps what the latest earlier frame saw there (frozen as
    last seen) and is free where no frame up to t saw it, or, with `fill_back`, shows what the first later
    frame to see it saw (the world before the ego reached it: a window seen from a later frame than its
    first stays still). From its own first frame a window is whole. Works on labels or on a valid mask
    alike. `world` (shape, extent): the grid the world window is laid on, by default the window's own; a
    wider one (`GridSpec.widened`, the same voxels) keeps what the frames see beyond the anchor's view."""
    _check(window, path)
    shape, world_extent = (window.shape[1:], extent) if world is None else (tuple(world[0]), world[1])
    flat, inside = lookup(shape, np.linalg.inv(path_poses(path)), world_extent, (window.shape[1:], extent))
    out = np.full((len(window), *shape), FREE, dtype=window.dtype)
    seen = np.full(int(np.prod(shape)), FREE, dtype=window.dtype)
    for t in range(len(window)):
        seen[inside[t]] = window[t].reshape(-1)[flat[t, inside[t]]]
        out[t] = seen.reshape(shape)
    if fill_back:
        never = ~np.logical_or.accumulate(inside, axis=0)  # (T, N): seen by no frame up to t
        for t in range(len(window) - 2, -1, -1):
            out[t].reshape(-1)[never[t]] = out[t + 1].reshape(-1)[never[t]]
    return out


def held(frame: np.ndarray, frames: int, grid: Grid, world: Grid | None = None) -> np.ndarray:
    """One frame (X, Y, Z) on `grid` as its ego saw it, held for `frames` frames: (frames, X, Y, Z), or on
    the `world` grid (a widened one around the same ego, `GridSpec.widened`) with `FREE` (False, for a mask)
    beyond the frame's view."""
    window = np.repeat(frame[None], frames, axis=0)
    if world is None:
        return window
    return to_world(window, np.zeros((frames, 3), np.float32), grid[1], world=world)


def path_in(poses: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Ego-to-world poses (T, 4, 4) -> (T, 3) float32 x, y, yaw in the ego frame of pose `origin` (4, 4): x
    forward, y left, yaw relative to its heading, wrapped to (-pi, pi]."""
    rel = np.linalg.inv(origin)[None] @ poses
    yaw = np.arctan2(rel[:, 1, 0], rel[:, 0, 0])
    return np.stack([rel[:, 0, 3], rel[:, 1, 3], yaw], axis=1).astype(np.float32)


def to_ego(
    window: np.ndarray, path: np.ndarray, extent: Extent, view: Grid | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A window (T, X, Y, Z) in world coordinates, spanning `extent` -> frame t seen from the ego at
    `path`[t] (T, 3), on the grid `view` (shape, extent; default: the window's own). A world larger than
    the view (a window outpainted ahead of the path) is the view's grid widened, in the same coordinates.

    Returns the ego-coordinate window and where it is unseen (T, *shape) bool: voxels beyond the world
    grid (ahead of a driving ego), which are `FREE`."""
    _check(window, path)
    shape, view_extent = (window.shape[1:], extent) if view is None else view
    flat, inside = lookup(tuple(shape), path_poses(path), view_extent, (window.shape[1:], extent))
    out = np.full((len(window), int(np.prod(shape))), FREE, dtype=window.dtype)
    for t in range(len(window)):
        out[t, inside[t]] = window[t].reshape(-1)[flat[t, inside[t]]]
    full = (len(window), *shape)
    return out.reshape(full), ~inside.reshape(full)
