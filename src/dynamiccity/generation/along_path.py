"""The world ahead of the ego. A world-coordinate window is seen from one of its frames (the first, or the
middle for "centred" coordinates), so an ego that drives looks beyond it: the strip ahead (and, from the
middle, behind), the sides a turn swings into view. Each side of the window that some path of a batch looks
beyond is outpainted (`dit.editing.shift`: the window kept in latent space, the strip that
enters generated) by as many latent cells as the furthest look needs, up to half the window; the windows are
then shown from a canvas of the window and its new strips. What lies beyond two sides at once (a corner past
a turn) or further than half a window stays unseen.

The strips are sampled with the batch's command only: the image-like conditions and the path lie on the
window's tokens, which the shift moves.
"""

from __future__ import annotations

import numpy as np
import torch

from dynamiccity.data.classes import FREE
from dynamiccity.data.egoframe import Extent, anchored, beyond, to_ego, world_anchor
from dynamiccity.diffusion.process import Known
from dynamiccity.dit.conditions import Conditions
from dynamiccity.dit.editing import DIRECTIONS, shift
from dynamiccity.generation.features import Features
from dynamiccity.generation.sampling import SampleSpec, decode_maps, edit_steer, keep_map, sample_maps
from dynamiccity.generation.strips import new_strip, slid


@torch.no_grad()
def shown_along(
    models,
    maps: torch.Tensor,
    worlds: np.ndarray,
    paths: np.ndarray,
    cond: Conditions | None,
    spec: SampleSpec,
    features: Features,
    g: torch.Generator,
    device,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """World windows (n, T, X, Y, Z), decoded from `maps` (n, C, H, W) and sampled with `cond`, shown along
    `paths` (n, T, 3, each in its first frame's ego frame), with the sides they look beyond outpainted when
    `features.ahead`. Returns the shown windows, where they are still unseen (both as `to_ego`) and the
    voxels added on each side."""
    dit, vae = models
    shape, extent, grid = worlds.shape[2:], dit.manifest.world_grid.extent, dit.manifest.grid
    view = (grid.shape, grid.extent)  # where the ego sees: the recorded grid, inside a widened world
    anchor = world_anchor(dit.manifest.coordinates, dit.manifest.frames)
    paths = np.stack([anchored(p, anchor) for p in paths])  # where each window is seen from
    if not features.ahead:
        shown = [to_ego(w, p, extent, view) for w, p in zip(worlds, paths, strict=True)]
        return np.stack([w for w, _ in shown]), np.stack([u for _, u in shown]), {}
    _, lx, ly, _ = dit.model.rollout.sizes
    per_cell = {"x": shape[0] // lx, "y": shape[1] // ly}
    half = {"x": lx // 2, "y": ly // 2}
    looks = [beyond(shape, p, extent, view) for p in paths]
    hexplane = dit.model.unroll(maps)
    command = None if cond is None or cond.command is None else Conditions(command=cond.command)
    strips = {}
    for side in DIRECTIONS:
        voxels = max(look[side] for look in looks)
        if voxels == 0:
            continue
        axis = side[1]
        cells = min(-(-voxels // per_cell[axis]), half[axis])
        moved, new = shift(hexplane, side, cells)
        known = Known(dit.model.rollout.roll(moved), keep_map(dit, new).to(device))
        steer = edit_steer(models, features.steering, known, *slid(worlds, side, cells * per_cell[axis]))
        grown = sample_maps(dit, len(worlds), spec, g, device, command, known, steer, features.repaint.rounds)
        strips[side] = new_strip(decode_maps(dit, vae, grown), side, cells * per_cell[axis])
    canvas, canvas_extent = _canvas(worlds, strips, extent)
    shown = [to_ego(c, p, canvas_extent, view) for c, p in zip(canvas, paths, strict=True)]
    added = {side: int(s.shape[2 if side[1] == "x" else 3]) for side, s in strips.items()}
    return np.stack([w for w, _ in shown]), np.stack([u for _, u in shown]), added


def _canvas(worlds: np.ndarray, strips: dict[str, np.ndarray], extent: Extent) -> tuple[np.ndarray, Extent]:
    """The windows (n, T, X, Y, Z) with the strips laid beside them, each along its side of the window (free
    where none reaches: the corners), and the canvas's extent."""
    n, t, x, y, z = worlds.shape
    width = {
        side: strips[side].shape[2 if side[1] == "x" else 3] if side in strips else 0 for side in DIRECTIONS
    }
    x0, y0 = width["-x"], width["-y"]
    canvas = np.full((n, t, x0 + x + width["+x"], y0 + y + width["+y"], z), FREE, dtype=worlds.dtype)
    canvas[:, :, x0 : x0 + x, y0 : y0 + y] = worlds
    for side, strip in strips.items():
        if side == "+x":
            canvas[:, :, x0 + x :, y0 : y0 + y] = strip
        elif side == "-x":
            canvas[:, :, :x0, y0 : y0 + y] = strip
        elif side == "+y":
            canvas[:, :, x0 : x0 + x, y0 + y :] = strip
        else:
            canvas[:, :, x0 : x0 + x, :y0] = strip
    lo, hi = np.array(extent[:3]), np.array(extent[3:])
    size = (hi - lo) / np.array((x, y, z))
    lo[:2] -= size[:2] * (x0, y0)
    hi[:2] += size[:2] * (width["+x"], width["+y"])
    return canvas, (*lo.tolist(), *hi.tolist())
