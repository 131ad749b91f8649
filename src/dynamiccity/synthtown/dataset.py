"""Writing a whole SynthTown dataset: many seeded scenes, split into train and val, in either layout."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dynamiccity.data.carlasc import write_carlasc_sequence
from dynamiccity.data.scene import CARLASC_GRID, GridSpec, Scene
from dynamiccity.data.synthtown_format import write_synthtown

log = logging.getLogger(__name__)
CARLASC_DENSITY = {"low": "Light", "medium": "Medium", "high": "Heavy"}
SYNTH_FORMATS = ("synthtown", "carlasc")
"""The layouts `synthesize` writes."""


Extent = tuple[float, float, float, float, float, float]


def synth_grid(shape: tuple[int, int, int], extent: Extent = CARLASC_GRID.extent) -> GridSpec:
    """A SynthTown grid of any shape over a metric extent [x0, y0, z0, x1, y1, z1] around the ego, 10 Hz.

    The default extent is CarlaSC's (51.2 x 51.2 x 3 m); a smaller one keeps CarlaSC's voxel size on a
    smaller grid (64x64x8 over [-12.8, -12.8, -2, 12.8, 12.8, 1] has its 0.4 x 0.4 x 0.375 m voxels).
    """
    if len(extent) != 6 or not all(np.isfinite(v) for v in extent):
        raise ValueError(f"extent must be six finite numbers x0 y0 z0 x1 y1 z1, got {extent!r}.")
    lo, hi = extent[:3], extent[3:]
    if not all(a < 0.0 < b for a, b in zip(lo[:2], hi[:2], strict=True)) or not lo[2] < hi[2]:
        raise ValueError(
            f"extent {list(extent)} must have x0 < 0 < x1 and y0 < 0 < y1 (the ego sits at the origin) and z0 < z1."
        )
    return GridSpec(tuple(int(v) for v in shape), tuple(float(v) for v in extent), CARLASC_GRID.hz)


def scene_seed(seed: int, index: int) -> int:
    """The generator seed of scene `index` of a dataset with base `seed` (independent streams)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def generate_scenes(
    count: int, frames: int, grid: GridSpec, seed: int, val_fraction: float
) -> Iterator[tuple[Scene, str]]:
    """Yield (scene, split) pairs; the last round(count * val_fraction) scenes are 'val'."""
    from dynamiccity.synthtown import generate_scene

    num_val = round(count * val_fraction)
    for i in range(count):
        scene = generate_scene(seed=scene_seed(seed, i), frames=frames, grid=grid)
        scene.name = f"scene_{i:04d}"
        yield scene, "val" if i >= count - num_val else "train"


def synthesize(
    out: str | Path,
    scenes: int,
    frames: int,
    grid: tuple[int, int, int],
    seed: int = 0,
    val_fraction: float = 0.1,
    format: str = "synthtown",
    progress: bool = False,
    extent: Extent = CARLASC_GRID.extent,
) -> Path:
    """Generate `scenes` SynthTown scenes and write them under `out` as "synthtown" or "carlasc".

    `extent` is the grid's metric extent (see `synth_grid`). The CarlaSC layout needs CarlaSC's 128x128x8
    grid and extent; sequences are named `SynthTown<i>_<Light|Medium|Heavy>` after their traffic density,
    in `Train/` or `Val/`.
    """
    from tqdm import tqdm

    spec = synth_grid(grid, extent)
    if format == "carlasc" and spec.extent != CARLASC_GRID.extent:
        raise ValueError(
            f"the CarlaSC layout needs CarlaSC's extent {list(CARLASC_GRID.extent)}, got {list(extent)}."
        )
    pairs = tqdm(
        generate_scenes(scenes, frames, spec, seed, val_fraction), total=scenes, disable=not progress
    )
    if format == "synthtown":
        return write_synthtown(out, pairs, spec)
    if format == "carlasc":
        for scene, split in pairs:
            density = CARLASC_DENSITY[scene.meta["density"]]
            name = f"SynthTown{scene.name.split('_')[-1]}_{density}"
            write_carlasc_sequence(out, split.capitalize(), name, scene)
        return Path(out)
    raise ValueError(f"unknown synth format {format!r}; choose one of {', '.join(SYNTH_FORMATS)}.")
