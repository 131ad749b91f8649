"""`dynamiccity city`: an unbounded 4D city grown in x, y and t by one DiT (paper Fig. 17, extended in time).

The city is a canvas of labels (frames, X, Y, Z) filled window by window in time and tile by tile in space.
Tiles are windows of the DiT's size placed every half window along x and y. For each time window, tiles are
filled in raster order: a tile inpaints the columns not yet filled from the ones its neighbours filled
(`dit.editing.regenerated(..., where="any")`), and from the second time window on it is also conditioned
on the same tile one window earlier (the previous-window condition), so what a tile shows continues in time.
Only a tile's new columns are laid onto the canvas.

A city stands still, so a DiT of world coordinates (windows seen from one pose throughout, a still world
that its actors move through) grows it as well as an ego-coordinate one: a tile one window earlier is its
previous window as such a DiT learned it, seen from where the next one starts (the same place).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from dynamiccity.diffusion.process import Known
from dynamiccity.dit.conditions import Conditions
from dynamiccity.dit.editing import latent_mask
from dynamiccity.generation.conditioning import Models, Start, encode_map
from dynamiccity.generation.features import NO_FEATURES, Features
from dynamiccity.generation.sampling import SampleSpec, decode_maps, edit_steer, keep_map, sample_maps


def tile_origins(total: int, window: int, step: int) -> list[int]:
    """Tile starts along an axis of `total` voxels: every `step`, the last one flush with the end."""
    if total < window:
        raise ValueError(f"a city must be at least one window ({window} voxels) wide, got {total}.")
    starts = list(range(0, total - window + 1, step))
    return starts if starts[-1] == total - window else [*starts, total - window]


@torch.no_grad()
def grow_city(
    models: Models,
    size: tuple[int, int],
    frames: int,
    spec: SampleSpec,
    device: torch.device | str = "cpu",
    cond: Conditions | None = None,
    start: Start | None = None,
    progress=None,
    features: Features = NO_FEATURES,
) -> tuple[np.ndarray, dict]:
    """A city (frames, X, Y, Z) uint8 of `size` = (X, Y) voxels, and facts about its making.

    cond: conditions every tile shares (batch 1). start: a real window the city begins with at its origin
    (its first tile, seen as the DiT's windows are), instead of a generated one. progress(done, total) is
    called per tile. features: how tiles keep and are steered towards what their neighbours filled.
    """
    dit, _ = models
    _check_city(dit, size, frames)
    features.check("city", world=dit.paths is not None)
    t = dit.manifest.frames
    wx, wy, z = dit.manifest.world_grid.shape
    xs, ys = tile_origins(size[0], wx, wx // 2), tile_origins(size[1], wy, wy // 2)
    windows = -(-frames // t)
    canvas = np.zeros((windows * t, size[0], size[1], z), np.uint8)
    g = torch.Generator().manual_seed(spec.seed)
    done, total, begin = 0, windows * len(xs) * len(ys), time.perf_counter()
    for k in range(windows):
        filled = np.zeros(size, bool)
        for ox, oy in ((ox, oy) for ox in xs for oy in ys):
            tile = (slice(ox, ox + wx), slice(oy, oy + wy))
            if k == 0 and start is not None and not filled.any():
                labels = start.seen_by(dit)
            else:
                labels = _tile(models, (canvas, filled, k, tile), cond, (spec, features), g, device)
            new = ~filled[tile]
            view = canvas[k * t : (k + 1) * t, tile[0], tile[1]]  # a view: writing it fills the canvas
            view[:, new] = labels[:, new]
            filled[tile] = True
            done += 1
            if progress is not None:
                progress(done, total)
    facts = {"size": list(size), "frames": frames, "tiles_per_window": len(xs) * len(ys), "windows": windows,
             "coordinates": dit.manifest.coordinates, "seconds": time.perf_counter() - begin}  # fmt: skip
    return canvas[:frames], facts


def _check_city(dit, size: tuple[int, int], frames: int) -> None:
    """Refuse a city this DiT cannot grow."""
    if "previous" not in dit.config.model.conditions and frames > dit.manifest.frames:
        raise ValueError(
            f"{dit.checkpoint}: growing a city in time needs a DiT trained with the previous condition."
        )
    wx, wy, _ = dit.manifest.world_grid.shape
    sizes = dit.model.rollout.sizes
    cell_x, cell_y = wx // sizes[1], wy // sizes[2]
    if size[0] % cell_x or size[1] % cell_y:
        raise ValueError(
            f"a city's size must be whole latent cells ({cell_x} x {cell_y} voxels), got {size}."
        )


def _tile(models: Models, where, cond: Conditions | None, asked, g, device) -> np.ndarray:
    """One tile's window (T, X, Y, Z) drawn into the city: `where` = (canvas, filled columns, time window k,
    the tile's slices); it keeps what its neighbours filled and continues the same tile one window earlier.
    `asked`: the `SampleSpec` and the `Features`."""
    (dit, vae), (canvas, filled, k, tile), (spec, features) = models, where, asked
    t = dit.manifest.frames
    given = {} if cond is None else {n: getattr(cond, n) for n in cond.given()}
    if k > 0:
        given["previous"] = encode_map(models, canvas[k * t - t : k * t, tile[0], tile[1]], device)
    part = Conditions(**given) if given else None
    context = canvas[k * t : (k + 1) * t, tile[0], tile[1]]
    known = _known(models, context, filled[tile], dit.model.rollout.sizes, device)
    steer = None if known is None else edit_steer(models, features.steering, known, context, filled[tile])
    maps = sample_maps(dit, 1, spec, g, device, part, known, steer, features.repaint.rounds)
    return decode_maps(dit, vae, maps)[0]


def _known(models: Models, labels: np.ndarray, filled: np.ndarray, sizes, device) -> Known | None:
    """What a tile keeps: the encoded tile (its unfilled columns empty) where it is already filled; None when
    nothing is."""
    if not filled.any():
        return None
    dit, _ = models
    xy = latent_mask(torch.from_numpy(~filled), sizes[1:3])
    return Known(encode_map(models, labels, device), keep_map(dit, xy, where="any").to(device))


def city(
    dit_dir,
    vae_dir,
    size: tuple[int, int],
    frames: int,
    out,
    spec: SampleSpec,
    device: str | None = None,
    request=None,
    gifs: bool = True,
    features: Features = NO_FEATURES,
) -> dict:
    """Grow a city (`grow_city`) and write OUT as a SynthTown dataset of one scene `city` on a grid of the
    city's size (the window's voxels, extended along +x and +y), with a bird's-eye GIF, and city.json."""
    import json
    from pathlib import Path

    from dynamiccity.atomic import write_text
    from dynamiccity.data import GridSpec, Scene, write_synthtown
    from dynamiccity.device import pick_device
    from dynamiccity.generation.conditioning import requested
    from dynamiccity.generation.sampling import load_pair

    device = pick_device(device)
    models = load_pair(dit_dir, vae_dir, device)
    cond, start = requested(request, models, device)
    bar = _Progress()
    labels, facts = grow_city(models, size, frames, spec, device, cond, start, bar, features)
    bar.close()
    window = models[0].manifest.world_grid  # the tiles, as the DiT draws them
    vx, vy, _ = window.voxel_size
    x0, y0, z0, _, _, z1 = window.extent
    grid = GridSpec(
        (size[0], size[1], window.shape[2]), (x0, y0, z0, x0 + size[0] * vx, y0 + size[1] * vy, z1), window.hz
    )
    out = Path(out)
    poses = np.broadcast_to(np.eye(4), (len(labels), 4, 4)).copy()
    write_synthtown(
        out, [(Scene(labels, poses, None, name="city", meta={"seed": spec.seed}), "generated")], grid
    )
    if gifs:
        from dynamiccity.viz import render_bev, save_animation

        save_animation([render_bev(f, scale=2) for f in labels], out / "gifs" / "city_bev.gif", fps=8)
    facts.update(sampler=spec.sampler, steps=spec.steps, seed=spec.seed, cfg_scale=spec.cfg_scale,
                 context_steer=features.steering.context, steer_iterations=features.steering.iterations,
                 conditions=[] if cond is None else list(cond.given()), dit_step=models[0].step)  # fmt: skip
    write_text(out / "city.json", json.dumps(facts, indent=1) + "\n")
    return facts


class _Progress:
    """A tqdm bar over the tiles of a city."""

    def __init__(self) -> None:
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, unit="tile", desc="city")
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
