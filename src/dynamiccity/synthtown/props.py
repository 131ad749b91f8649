"""Street furniture stamped into the world map: trees, poles, parked cars and small clutter.

Objects are placed along each road at a lateral offset from its centreline and kept only where that
spot really lies on the intended strip of that road (not on another road crossing at a junction).
Thin objects are drawn at least one voxel wide so that they never fall between voxel centres.
"""

from __future__ import annotations

import numpy as np

from dynamiccity.data.classes import FREE, OTHER, POLE, VEGETATION, VEHICLE
from dynamiccity.synthtown.geometry import left_normal
from dynamiccity.synthtown.roads import PARKING_WIDTH, RoadNetwork
from dynamiccity.synthtown.town import LOT_KIND, PARK_KIND, Blocks
from dynamiccity.synthtown.world import KERB_HEIGHT, WorldMap


def along_road(net: RoadNetwork, road: int, s: np.ndarray, lateral: np.ndarray | float) -> np.ndarray:
    """(N, 3) world x, y, yaw of points at arclengths s (N,) and left offsets `lateral` of a road."""
    pose = net.roads[road].path.poses(s)
    pose[:, :2] += np.asarray(lateral, dtype=np.float64).reshape(-1, 1) * left_normal(pose[:, 2])
    return pose


def on_strip(
    net: RoadNetwork, road: int, xy: np.ndarray, lo: float, hi: float, clear: float = 0.0
) -> np.ndarray:
    """(N,) bool: points xy (N, 2) lie lo <= e < hi metres beyond the kerb of `road`, and every other
    road's kerb is more than `clear` metres away."""
    e, _, _ = net.kerb_distances(xy)
    others = np.delete(e, road, axis=0)
    ok = (e[road] >= lo) & (e[road] < hi) & (e[road] <= e.min(axis=0))
    return ok & (others > clear).all(axis=0) if len(others) else ok


def spaced(rng: np.random.Generator, span: float, gap: tuple[float, float]) -> np.ndarray:
    """Sorted arclengths over [-span, span] with random spacings drawn from `gap` (lo, hi) metres."""
    steps = rng.uniform(*gap, size=int(2 * span / gap[0]) + 2)
    s = -span + rng.uniform(0.0, gap[1]) + np.cumsum(steps)
    return s[s < span]


def plant_tree(
    world: WorldMap, xy: np.ndarray, rng: np.random.Generator, radius: tuple[float, float]
) -> None:
    """A trunk rooted in the ground under a canopy disc (vegetation); heights in metres above ground.

    Nothing grows where the ground is taken: inside or on a building, or on another column object.
    """
    low = float(rng.uniform(1.8, 2.4))
    top = low + float(rng.uniform(2.5, 5.0))
    width = float(rng.uniform(*radius))
    spot = world.sample(np.array(xy[0]), np.array(xy[1]))
    if spot["surf_cls"] == FREE or spot["col_cls"] != FREE:
        return
    half = max(0.2, world.vxy / 2)
    world.stamp_box(xy, 0.0, (half, half), VEGETATION, world.root, low + 0.5)
    world.stamp_disc(xy, width, VEGETATION, low, top)


def street_trees_and_poles(world: WorldMap, net: RoadNetwork, rng: np.random.Generator, span: float) -> None:
    """Trees in pits and lamp/sign poles near the kerb of both sidewalks of every road."""
    half_pole = max(0.15, world.vxy / 2)
    for road, spec in enumerate(net.roads):
        for side in (1, -1):
            lateral = side * (spec.half_width + min(0.9, net.sidewalk / 3))
            s_pole = spaced(rng, span, (16.0, 30.0)) if rng.random() < 0.85 else np.zeros(0)
            pose = along_road(net, road, s_pole, side * (spec.half_width + 0.35))
            for x, y, yaw in pose[on_strip(net, road, pose[:, :2], 0.0, net.sidewalk, clear=1.0)]:
                top = float(rng.uniform(2.5, 8.0))  # signs to street lights
                world.stamp_box(np.array([x, y]), yaw, (half_pole, half_pole), POLE, world.root, top)
            if rng.random() < 0.3:
                continue
            s_tree = spaced(rng, span, (7.0, 13.0))
            s_tree = s_tree[np.abs(s_tree[:, None] - s_pole[None, :]).min(axis=1, initial=np.inf) > 2.5]
            pose = along_road(net, road, s_tree, lateral)
            for xy in pose[on_strip(net, road, pose[:, :2], 0.0, net.sidewalk, clear=2.0), :2]:
                plant_tree(world, xy, rng, (1.4, 2.6))


def junction_poles(world: WorldMap, net: RoadNetwork, rng: np.random.Generator) -> None:
    """Traffic-light poles on the four sidewalk corners of a junction (where a sidewalk is)."""
    if not net.junction:
        return
    half = max(0.15, world.vxy / 2)
    corner = net.reach + 0.5
    for sx in (1.0, -1.0):
        for sy in (1.0, -1.0):
            xy = np.array([[sx * corner, sy * corner]])
            e, _, _ = net.kerb_distances(xy)
            if 0.0 <= e.min() < net.sidewalk:
                world.stamp_box(xy[0], 0.0, (half, half), POLE, world.root, float(rng.uniform(4.0, 6.0)))


def greenery(world: WorldMap, net: RoadNetwork, blocks: list[Blocks], rng: np.random.Generator) -> None:
    """Trees and bushes over park blocks (a tree per 50 and a bush per 60 square metres) and a few on
    empty lots."""
    per_area = {PARK_KIND: (50.0, 60.0), LOT_KIND: (300.0, 120.0)}  # square metres per tree, per bush
    for b in blocks:
        spec = net.roads[b.road]
        for k in np.flatnonzero(np.isin(b.kind, list(per_area))):
            area = (b.bounds[k + 1] - b.bounds[k]) * b.depth[k]
            trees, bushes = (rng.poisson(area / a) for a in per_area[int(b.kind[k])])
            s = rng.uniform(b.bounds[k] + 1.0, b.bounds[k + 1] - 1.0, trees + bushes)
            u = rng.uniform(1.5, b.depth[k], trees + bushes)
            pose = along_road(net, b.road, s, b.side * (spec.half_width + net.sidewalk + u))
            keep = on_strip(net, b.road, pose[:, :2], net.sidewalk + 1.0, np.inf, clear=net.sidewalk + 1.0)
            for n in np.flatnonzero(keep):
                if n < trees:
                    plant_tree(world, pose[n, :2], rng, (1.8, 3.5))
                else:
                    plant_bush(world, pose[n, :2], rng)


def plant_bush(world: WorldMap, xy: np.ndarray, rng: np.random.Generator) -> None:
    """A round bush (vegetation) 0.6 - 1.6 m high, rooted in free ground."""
    radius, top = float(rng.uniform(0.5, 1.3)), float(rng.uniform(0.6, 1.6))
    spot = world.sample(np.array(xy[0]), np.array(xy[1]))
    if spot["surf_cls"] != FREE and spot["col_cls"] == FREE:
        world.stamp_disc(xy, max(radius, world.vxy / 2), VEGETATION, world.root, top, layer="col")


def parked_cars(
    world: WorldMap, net: RoadNetwork, rng: np.random.Generator, density: float, span: float
) -> np.ndarray:
    """Cars on the parking strips (VEHICLE columns standing on the road); returns their (N, 2) centres."""
    centres = []
    for road, spec in enumerate(net.roads):
        if not spec.parking:
            continue
        for side in (1, -1):
            s = spaced(rng, span, (5.5, 7.5))
            s = s[rng.random(len(s)) < 0.25 + 0.6 * density]
            pose = along_road(net, road, s, side * (spec.half_width - PARKING_WIDTH / 2))
            keep = on_strip(net, road, pose[:, :2], -PARKING_WIDTH, 0.0, clear=net.sidewalk + 5.0)
            for x, y, yaw in pose[keep]:
                half, top = _parked_size(rng, world.vxy)
                world.stamp_box(np.array([x, y]), yaw, half, VEHICLE, world.above, top)
                centres.append((x, y))
    return np.array(centres, dtype=np.float64).reshape(-1, 2)


def _parked_size(rng: np.random.Generator, vxy: float) -> tuple[tuple[float, float], float]:
    """Half-length, half-width and height (m) of a parked car (85 %) or van (15 %)."""
    if rng.random() < 0.15:
        half, top = (rng.uniform(2.7, 3.2), rng.uniform(1.0, 1.15)), rng.uniform(2.0, 2.5)
    else:
        half, top = (rng.uniform(2.0, 2.45), rng.uniform(0.85, 1.0)), rng.uniform(1.4, 1.7)
    return (float(half[0]), float(max(half[1], vxy / 2))), float(top)


def clutter(world: WorldMap, net: RoadNetwork, rng: np.random.Generator, span: float) -> None:
    """A few benches, bins and kiosks ("other") at the back of the sidewalks."""
    for road, spec in enumerate(net.roads):
        for side in (1, -1):
            s = spaced(rng, span, (20.0, 60.0))
            pose = along_road(net, road, s, side * (spec.half_width + net.sidewalk - 0.5))
            half = (max(0.6, world.vxy / 2), max(0.3, world.vxy / 2))
            for x, y, yaw in pose[on_strip(net, road, pose[:, :2], 0.0, net.sidewalk, clear=1.0)]:
                top = KERB_HEIGHT + float(rng.uniform(0.8, 2.2))
                world.stamp_box(np.array([x, y]), yaw, half, OTHER, KERB_HEIGHT + world.above, top)
