"""The ground plan of a scene: road, sidewalks, and the frontage blocks (buildings, parks, empty lots)
behind them, painted into a `WorldMap`.

Each side of each road is cut into blocks along the road's arclength. A block is a building (set back
from the sidewalk, some metres deep, with alleys at its ends), a park (hedged, with trees added by
`props`) or an empty lot (terrain, sometimes fenced). Points belong to the road whose kerb is nearest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynamiccity.data.classes import BARRIER, BUILDING, FREE, GROUND, ROAD, SIDEWALK, VEGETATION
from dynamiccity.synthtown.config import SynthConfig
from dynamiccity.synthtown.roads import RoadNetwork
from dynamiccity.synthtown.world import KERB_HEIGHT, WorldMap, erode

BUILDING_KIND, PARK_KIND, LOT_KIND = 0, 1, 2
KIND_PROBS = (0.55, 0.25, 0.2)
HEDGE_HEIGHT = 1.2
FENCE_HEIGHT = 1.1


@dataclass(frozen=True)
class Blocks:
    """The frontage blocks along one side (+1 left, -1 right) of road `road`; B blocks.

    Attributes:
        bounds: (B + 1,) float64 arclengths of block ends along the road.
        kind: (B,) int64 BUILDING_KIND, PARK_KIND or LOT_KIND.
        setback, depth, height, gap_lo, gap_hi: (B,) float64 metres; the building footprint spans
            [setback, setback + depth) behind the sidewalk and [bound + gap_lo, next bound - gap_hi) along it.
        hedge, fence: (B,) bool; a hedge along the front of the setback or park, a fence along a lot.
    """

    road: int
    side: int
    bounds: np.ndarray
    kind: np.ndarray
    setback: np.ndarray
    depth: np.ndarray
    height: np.ndarray
    gap_lo: np.ndarray
    gap_hi: np.ndarray
    hedge: np.ndarray
    fence: np.ndarray


def draw_blocks(rng: np.random.Generator, net: RoadNetwork, cfg: SynthConfig, span: float) -> list[Blocks]:
    """Random blocks along both sides of every road over arclengths [-span, span]."""
    out = []
    for road in range(len(net.roads)):
        for side in (1, -1):
            lengths = rng.uniform(10.0, 32.0, size=int(2 * span / 10.0) + 2)
            bounds = -span - rng.uniform(0.0, 10.0) + np.concatenate([[0.0], np.cumsum(lengths)])
            n = len(lengths)
            setback = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(1.5, 6.0, n))
            kind = rng.choice(3, size=n, p=KIND_PROBS)
            gaps = np.where(rng.random((2, n)) < 0.5, 0.0, rng.uniform(1.5, 4.0, (2, n)))
            block = Blocks(
                road=road,
                side=side,
                bounds=bounds,
                kind=kind,
                setback=setback,
                depth=rng.uniform(8.0, 20.0, n),
                height=rng.uniform(*cfg.building_height_range, n),
                gap_lo=gaps[0],
                gap_hi=gaps[1],
                hedge=(rng.random(n) < 0.5) & ((setback > 0) | (kind == PARK_KIND)),
                fence=(rng.random(n) < 0.5) & (kind != BUILDING_KIND),
            )
            out.append(block)
    return out


def paint_ground(
    world: WorldMap, net: RoadNetwork, blocks: list[Blocks], cfg: SynthConfig, wall: float
) -> None:
    """Paint roads, sidewalks, terrain, buildings, hedges and fences into `world` (in place).

    Buildings of all roads are united (so that corner blocks fill), hedges and fences belong to the
    nearest road only.

    Args:
        wall: building wall thickness (m), used when cfg.building_interior == "hollow".
    """
    shape = world.shape
    e_all, s_all, d_all = net.kerb_distances(world.centres())  # (R, H * W) each
    e, nearest = e_all.min(axis=0), e_all.argmin(axis=0)
    world.surf_cls[:] = np.where(e < 0, ROAD, np.where(e < net.sidewalk, SIDEWALK, GROUND)).reshape(shape)
    world.surf_top[:] = np.where((e >= 0) & (e < net.sidewalk), KERB_HEIGHT, 0.0).reshape(shape)
    footprint, height = np.zeros(e.shape, bool), np.zeros(e.shape, np.float32)
    hedge, fence = np.zeros(e.shape, bool), np.zeros(e.shape, bool)
    for b in blocks:
        mask = (e >= net.sidewalk) & np.isfinite(e_all[b.road]) & ((d_all[b.road] >= 0) == (b.side > 0))
        u = e_all[b.road, mask] - net.sidewalk  # (M,) metres behind the sidewalk
        s = s_all[b.road, mask]
        k = np.clip(np.searchsorted(b.bounds, s, side="right") - 1, 0, len(b.kind) - 1)
        a = s - b.bounds[k]  # (M,) metres along the block
        built = (b.kind[k] == BUILDING_KIND) & (u >= b.setback[k]) & (u < b.setback[k] + b.depth[k])
        built &= (a >= b.gap_lo[k]) & (a < b.bounds[k + 1] - b.bounds[k] - b.gap_hi[k])
        footprint[mask] |= built
        height[mask] = np.where(built, np.maximum(b.height[k], height[mask]), height[mask])
        own = nearest[mask] == b.road
        front = np.where(b.kind[k] == PARK_KIND, 0.0, b.setback[k] - 1.0)
        hedge[mask] |= own & b.hedge[k] & (u >= front) & (u < front + 1.0)
        fence[mask] |= own & b.fence[k] & (u < max(0.3, world.vxy))
    _fill_column(world, (hedge & ~footprint).reshape(shape), VEGETATION, HEDGE_HEIGHT)
    _fill_column(world, (fence & ~footprint).reshape(shape), BARRIER, FENCE_HEIGHT)
    _paint_buildings(world, footprint.reshape(shape), height.reshape(shape), cfg, wall)


def _fill_column(world: WorldMap, where: np.ndarray, cls: int, top: float) -> None:
    """Root a column of `cls` in the ground, up to height `top`, at cells `where` (H, W) bool."""
    world.col_cls[where] = cls
    world.col_lo[where] = world.root
    world.col_hi[where] = top


def _paint_buildings(
    world: WorldMap, footprint: np.ndarray, height: np.ndarray, cfg: SynthConfig, wall: float
) -> None:
    """Walls of `footprint` (H, W) bool up to `height` (H, W) float32 metres. A hollow building's
    interior is never observed: free at every height but for a roof slab."""
    interior = np.zeros_like(footprint)
    if cfg.building_interior == "hollow":
        interior = erode(footprint, round(wall / world.res))
    walls = footprint & ~interior
    world.col_cls[walls] = BUILDING
    world.col_lo[walls] = world.root
    world.col_hi[walls] = height[walls]
    world.surf_cls[interior] = FREE
    world.up_cls[interior] = BUILDING
    world.up_lo[interior] = height[interior] - 0.6
    world.up_hi[interior] = height[interior]
