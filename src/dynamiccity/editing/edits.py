"""Scene editing with a trained DiT (paper Eq. 13, Fig. 17): inpainting a region of a real window and
outpainting a window into a larger scene, on any sampler, with or without conditions.

Inpainting encodes the window, marks the HexPlane features the region regenerates (`dit.editing`) and
samples with the rest kept (`diffusion.process.Known`). Outpainting slides the window by part of its width,
keeps what stays in view and generates the strip that enters; repeated, the scene grows in one direction.
Each generated strip is laid onto a canvas beside what came before, so the scene is larger than a window.
A DiT of world coordinates edits the window as seen from its first frame (`data.egoframe.to_world`), and
the edited scene is written so: a still world that its actors move through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dynamiccity.data import GridSpec
from dynamiccity.diffusion.process import Known
from dynamiccity.dit.conditions import Conditions
from dynamiccity.dit.editing import DIRECTIONS, latent_mask, shift
from dynamiccity.generation.conditioning import Models, encode_map, scene_start
from dynamiccity.generation.features import NO_FEATURES, Features
from dynamiccity.generation.sampling import (
    DEFAULT_SPEC,
    SampleSpec,
    decode_maps,
    edit_steer,
    keep_map,
    sample_maps,
)
from dynamiccity.generation.strips import new_strip, slid


@dataclass(frozen=True)
class EditRequest:
    """An edit of a scene of a dataset, as a user names it.

    inpaint: the scene whose first window to inpaint, in the region `mask` (see `parse_mask`). outpaint: the
    scene whose first window to grow towards `direction` (one of `DIRECTIONS`), `times` times by half the
    window's width.
    """

    inpaint: str | None = None
    mask: str | None = None
    outpaint: str | None = None
    direction: str = "+x"
    times: int = 1

    def __post_init__(self) -> None:
        if self.inpaint is not None and self.outpaint is not None:
            raise ValueError("inpaint or outpaint a scene, not both at once.")
        if self.inpaint is not None and self.mask is None:
            raise ValueError("inpainting needs a mask: a PNG, an .npy or x0:x1,y0:y1 (voxels).")
        if self.mask is not None and self.inpaint is None:
            raise ValueError("a mask was given but no scene to inpaint.")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {self.direction!r}; choose one of {', '.join(DIRECTIONS)}.")
        if self.times < 1:
            raise ValueError(f"outpainting needs times >= 1, got {self.times}.")

    @property
    def scene(self) -> str | None:
        return self.inpaint if self.inpaint is not None else self.outpaint


_BOX = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*,\s*(\d+)\s*:\s*(\d+)\s*$")


def parse_mask(text: str | Path, grid_xy: tuple[int, int]) -> np.ndarray:
    """The region to regenerate, (X, Y) bool, from "x0:x1,y0:y1" (voxel index ranges, end excluded), an .npy
    (X, Y) of 0/1, or a PNG drawn over the scene's bird's-eye render (`viz.render_bev`: +x up, +y left, any
    whole number of pixels per voxel) where every pixel brighter than mid-grey is regenerated."""
    x, y = grid_xy
    box = _BOX.match(str(text))
    if box:
        x0, x1, y0, y1 = map(int, box.groups())
        if not (0 <= x0 < x1 <= x and 0 <= y0 < y1 <= y):
            raise ValueError(
                f"mask box {text!r} does not lie in the {x} x {y} grid (x0 < x1 <= {x}, y0 < y1 <= {y})."
            )
        region = np.zeros((x, y), bool)
        region[x0:x1, y0:y1] = True
        return region
    path = Path(text)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such mask file (expected a PNG, an .npy or x0:x1,y0:y1).")
    if path.suffix.lower() == ".npy":
        region = np.load(path, allow_pickle=False)
        if region.shape != (x, y) or not np.isin(region, (0, 1)).all():
            raise ValueError(
                f"{path}: a mask must be ({x}, {y}) of 0 and 1, got {region.shape} {region.dtype}."
            )
        return region.astype(bool)
    return _png_mask(path, x, y)


def _png_mask(path: Path, x: int, y: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        image = np.asarray(Image.open(path).convert("L"))
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path}: not a readable PNG mask ({err}).") from err
    rows, cols = image.shape
    if rows % x or cols % y or rows // x != cols // y:
        raise ValueError(
            f"{path}: a mask image must be a whole multiple of the {x} x {y} grid, got {rows} x {cols}."
        )
    scale = rows // x
    cells = image.reshape(x, scale, y, scale).max(axis=(1, 3)) > 127
    return np.ascontiguousarray(cells[::-1, ::-1])  # image row 0 is the largest x, column 0 the largest y


@torch.no_grad()
def inpaint_with(
    models: Models,
    labels: np.ndarray,
    region: np.ndarray,
    num: int,
    spec: SampleSpec = DEFAULT_SPEC,
    device: torch.device | str = "cpu",
    cond: Conditions | None = None,
    features: Features = NO_FEATURES,
) -> np.ndarray:
    """`num` versions (num, T, X, Y, Z) uint8 of the window `labels` (T, X, Y, Z) with `region` (X, Y) bool
    regenerated and everything else kept in latent space (what the decoder's reach carries across the
    region's edge changes with it), resampled and steered as `features` ask."""
    dit, vae = models
    x0 = encode_map(models, labels, device)  # (1, C, H, W)
    sizes = dit.model.rollout.sizes
    if tuple(region.shape) != tuple(labels.shape[1:3]):
        raise ValueError(
            f"a mask of {region.shape} does not fit windows of {labels.shape[1]} x {labels.shape[2]}."
        )
    xy = latent_mask(torch.from_numpy(np.asarray(region, bool)), sizes[1:3])
    keep = keep_map(dit, xy).to(device)
    g = torch.Generator().manual_seed(spec.seed)
    out = []
    for _, n in spec.batches(num):
        part = None if cond is None else cond.repeat(n)
        known = Known(x0.expand(n, -1, -1, -1), keep)
        steer = edit_steer(models, features.steering, known, labels, ~np.asarray(region, bool))
        maps = sample_maps(dit, n, spec, g, device, part, known, steer, features.repaint.rounds)
        out.append(decode_maps(dit, vae, maps))
    return np.concatenate(out)


@torch.no_grad()
def outpaint_with(
    models: Models,
    labels: np.ndarray,
    direction: str,
    times: int,
    num: int,
    spec: SampleSpec = DEFAULT_SPEC,
    device: torch.device | str = "cpu",
    cond: Conditions | None = None,
    cells: int | None = None,
    features: Features = NO_FEATURES,
) -> np.ndarray:
    """`num` scenes grown from the window `labels` (T, X, Y, Z) towards `direction`, `times` times by `cells`
    latent cells (default: half the window): (num, T, X + times * s, Y, Z) for x, (num, T, X, Y + times * s,
    Z) for y, with s the shift in voxels. The window itself is kept as it is; each step keeps what stays in
    view in latent space and lays the decoded new strip beside the scene."""
    dit, vae = models
    x, y = labels.shape[1:3]
    _, lx, ly, _ = dit.model.rollout.sizes
    axis = 0 if direction[1] == "x" else 1
    cells = (lx if axis == 0 else ly) // 2 if cells is None else cells
    voxels = cells * (x // lx if axis == 0 else y // ly)
    g = torch.Generator().manual_seed(spec.seed)
    scenes = []
    for _, n in spec.batches(num):
        part = None if cond is None else cond.repeat(n)
        hexplane = dit.model.unroll(encode_map(models, labels, device).expand(n, -1, -1, -1))
        window = np.repeat(labels[None], n, axis=0)  # what the window sees, in voxels
        strips = []
        for _ in range(times):
            moved, new = shift(hexplane, direction, cells)
            x0 = dit.model.rollout.roll(moved)
            known = Known(x0, keep_map(dit, new).to(device))
            window, kept = slid(window, direction, voxels)
            steer = edit_steer(models, features.steering, known, window, kept)
            maps = sample_maps(dit, n, spec, g, device, part, known, steer, features.repaint.rounds)
            hexplane = dit.model.unroll(maps)
            decoded = decode_maps(dit, vae, maps)
            window[:, :, ~kept] = decoded[:, :, ~kept]
            strips.append(new_strip(decoded, direction, voxels))
        scenes.append(_lay_out(np.repeat(labels[None], n, axis=0), strips, direction))
    return np.concatenate(scenes)


def _lay_out(start: np.ndarray, strips: list[np.ndarray], direction: str) -> np.ndarray:
    """The scene: the start windows (n, T, X, Y, Z) with the strips laid beyond them, in order, towards
    `direction`."""
    axis = 2 if direction[1] == "x" else 3
    parts = [start, *strips] if direction[0] == "+" else [*reversed(strips), start]
    return np.concatenate(parts, axis=axis)


def edit_scenes(
    models: Models,
    edit: EditRequest,
    data,
    num: int,
    spec: SampleSpec,
    device: torch.device | str = "cpu",
    cond: Conditions | None = None,
    features: Features = NO_FEATURES,
) -> tuple[np.ndarray, GridSpec, dict]:
    """The scenes an `EditRequest` names, from the first window of its scene in `data` (a `DataSpec`): the
    scenes (num, T, X', Y', Z) uint8, their grid (larger than the window's when outpainted) and facts. A
    world-coordinate DiT's scenes are seen from the window's first frame throughout."""
    dit, _ = models
    features.check("edit", world=dit.paths is not None)
    grid, coordinates = dit.manifest.world_grid, dit.manifest.coordinates
    labels = scene_start(data, edit.scene, models).seen_by(dit)
    if edit.inpaint is not None:
        region = parse_mask(edit.mask, labels.shape[1:3])
        scenes = inpaint_with(models, labels, region, num, spec, device, cond, features)
        facts = {"edit": "inpaint", "scene": edit.inpaint, "mask": str(edit.mask),
                 "regenerated_share": float(region.mean()), "coordinates": coordinates}  # fmt: skip
        return scenes, grid, facts
    scenes = outpaint_with(
        models, labels, edit.direction, edit.times, num, spec, device, cond, features=features
    )
    facts = {"edit": "outpaint", "scene": edit.outpaint, "direction": edit.direction, "times": edit.times,
             "coordinates": coordinates}  # fmt: skip
    return scenes, grown_grid(grid, scenes.shape[2:], edit.direction), facts


def grown_grid(grid: GridSpec, shape: tuple[int, int, int], direction: str) -> GridSpec:
    """`grid` grown to `shape` voxels towards `direction`, the voxel size kept."""
    size = grid.voxel_size
    extent = list(grid.extent)
    axis = 0 if direction[1] == "x" else 1
    added = (shape[axis] - grid.shape[axis]) * size[axis]
    if direction[0] == "+":
        extent[axis + 3] += added
    else:
        extent[axis] -= added
    return GridSpec(tuple(int(s) for s in shape), tuple(extent), grid.hz)
