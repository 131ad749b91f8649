"""Editing a HexPlane in latent space (paper Eq. 13, Fig. 17): which features an XY mask regenerates, and
shifting a HexPlane along x or y to outpaint.

An XY mask says where the scene is regenerated. A feature of the HexPlane describes a set of XY columns: a
cell of the xy plane one column block, a cell of xz or tx all columns of its x (every y), a cell of yz or ty
all columns of its y, a cell of tz every column. A feature is regenerated only where every column it
describes is: so a region inside the scene regenerates the xy plane there and leaves the planes that
aggregate over the rest of the scene as they are (the decoded scene outside the region depends only on
kept features, up to the decoder's reach), while a strip across the whole scene (outpainting) regenerates
the xz and tx features of its x too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dynamiccity.hexplane import HexPlane, plane_shapes

DIRECTIONS = ("+x", "-x", "+y", "-y")


def latent_mask(voxel_mask: torch.Tensor, latent_xy: tuple[int, int]) -> torch.Tensor:
    """(X, Y) bool voxel mask (True: regenerate) -> (X', Y') at the latent's resolution: a latent cell is
    regenerated where any voxel of its block is (so nothing in the mask keeps its old content)."""
    x, y = voxel_mask.shape
    lx, ly = latent_xy
    if x % lx or y % ly:
        raise ValueError(f"a mask of {x} x {y} voxels does not divide into the latent's {lx} x {ly} cells.")
    pooled = F.max_pool2d(voxel_mask.float()[None, None], (x // lx, y // ly))
    return pooled[0, 0] > 0


def regenerated(xy: torch.Tensor, sizes: tuple[int, int, int, int], where: str = "all") -> HexPlane:
    """Which HexPlane features an XY mask regenerates: xy (X', Y') bool at the latent's resolution, sizes
    (T', X', Y', Z') -> a HexPlane of (1, 1, rows, cols) bool planes.

    where="all": a feature that describes several columns is regenerated where all of them are (module
    docstring: what is kept decodes as before). where="any": where any of them is, for growing a scene
    on a canvas, where the kept columns' features came from a window that was partly empty and only the
    new columns' voxels are used.
    """
    shapes = plane_shapes(sizes)
    if tuple(xy.shape) != shapes["xy"]:
        raise ValueError(f"an XY latent mask must be {shapes['xy']}, got {tuple(xy.shape)}.")
    if where not in ("all", "any"):
        raise ValueError(f"where must be 'all' or 'any', got {where!r}.")
    xy = xy.bool()
    reduce = torch.all if where == "all" else torch.any
    along_x, along_y, everywhere = reduce(xy, dim=1), reduce(xy, dim=0), reduce(xy)  # (X',), (Y',), ()
    t, _, _, z = sizes
    planes = {
        "xy": xy,
        "xz": along_x[:, None].expand(-1, z),
        "yz": along_y[:, None].expand(-1, z),
        "tx": along_x[None, :].expand(t, -1),
        "ty": along_y[None, :].expand(t, -1),
        "tz": everywhere.expand(t, z),
    }
    return HexPlane.from_planes({k: v[None, None].contiguous() for k, v in planes.items()})


def shift(hexplane: HexPlane, direction: str, cells: int) -> tuple[HexPlane, torch.Tensor]:
    """The HexPlane moved `cells` latent cells towards `direction` (one of `DIRECTIONS`): the scene's window
    slides that way, its far side shifted in, the new strip zero. Returns it and the (X', Y') bool mask of
    the new strip (to regenerate)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; choose one of {', '.join(DIRECTIONS)}.")
    _, _, x, y, _ = hexplane.sizes
    axis_len = x if direction[1] == "x" else y
    if not 0 < cells < axis_len:
        raise ValueError(f"a shift must be 1..{axis_len - 1} latent cells along {direction[1]}, got {cells}.")
    step = -cells if direction[0] == "+" else cells  # the window moves +x: content moves to lower x
    # the axis of each plane that is x (or y), as a tensor dim
    dims = {"x": {"xy": 2, "xz": 2, "tx": 3}, "y": {"xy": 3, "yz": 2, "ty": 3}}[direction[1]]
    planes = hexplane.as_dict()
    for name, dim in dims.items():
        planes[name] = _roll_fill(planes[name], step, dim)
    new = torch.zeros(x, y, dtype=torch.bool)
    strip = slice(axis_len - cells, None) if direction[0] == "+" else slice(0, cells)
    if direction[1] == "x":
        new[strip, :] = True
    else:
        new[:, strip] = True
    return HexPlane.from_planes(planes), new


def _roll_fill(plane: torch.Tensor, step: int, dim: int) -> torch.Tensor:
    """plane rolled by `step` along `dim`, the wrapped-around part zero."""
    out = torch.roll(plane, step, dims=dim)
    index = [slice(None)] * plane.dim()
    index[dim] = slice(step, None) if step < 0 else slice(0, step)
    out[tuple(index)] = 0
    return out
