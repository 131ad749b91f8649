"""`generate_scene`: one seeded SynthTown scene, from road layout to ego-centred voxel frames.

Pipeline: draw a (layout, command) pair -> road network -> ego drive -> static world raster (ground plan,
buildings, trees, poles, parked cars) -> traffic simulation (vehicles, bicycles, pedestrians) ->
voxelisation of every frame around the ego -> `Scene` with ego-to-world poses and per-scene meta.
"""

from __future__ import annotations

import numpy as np

from dynamiccity.data.classes import BICYCLE, PEDESTRIAN, VEHICLE
from dynamiccity.data.scene import CARLASC_GRID, GridSpec, Scene
from dynamiccity.synthtown.actors import plan_signals
from dynamiccity.synthtown.config import COMMANDS, LAYOUTS, SynthConfig, density_label
from dynamiccity.synthtown.ego import Ego, plan_ego
from dynamiccity.synthtown.props import (
    clutter,
    greenery,
    junction_poles,
    parked_cars,
    street_trees_and_poles,
)
from dynamiccity.synthtown.roads import RoadNetwork, draw_layout
from dynamiccity.synthtown.town import draw_blocks, paint_ground
from dynamiccity.synthtown.traffic import build_fleet, build_walkers, simulate
from dynamiccity.synthtown.voxelize import inside_grid, voxelize
from dynamiccity.synthtown.world import WorldMap

DEFAULT_CONFIG = SynthConfig()
"""The default knobs (a frozen, shared instance)."""

MAX_MAP_CELLS = 4_000_000
"""Upper bound on the world raster's cells; the raster coarsens beyond it."""


def generate_scene(
    seed: int, frames: int = 16, grid: GridSpec = CARLASC_GRID, config: SynthConfig = DEFAULT_CONFIG
) -> Scene:
    """One SynthTown scene, deterministic in (seed, frames, grid, config).

    Args:
        seed: any non-negative int; the scene is named f"synthtown_{seed:06d}".
        frames: T >= 1 frames, 1 / grid.hz seconds apart (a single frame has a static ego).
        grid: the ego-centred voxel grid (x forward, y left, z up); the ego sits at the extent's origin.

    Returns:
        Scene with labels (T, X, Y, Z) uint8 common class ids, poses (T, 4, 4) float64 ego-to-world,
        valid None, and meta holding "layout", "density" ("low"/"medium"/"high"), "density_value" (float in
        [0, 1]), "ego_command", "ego_speed_mps", "num_vehicles" (moving and parked that appear),
        "num_pedestrians", "num_bicycles", "seed" and a few more plain values.
    """
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}.")
    rng = np.random.default_rng(seed)
    layout, command = draw_pair(rng, config)
    command = command if frames > 1 else "static"
    density = float(rng.uniform(*config.density_range))
    dt = 1.0 / grid.hz
    x0, y0, z0, x1, y1, z1 = grid.extent
    ego_height = -(z0 + config.ground_frac * (z1 - z0))
    view = float(np.hypot(max(abs(x0), abs(x1)), max(abs(y0), abs(y1))))
    duration = config.warmup_s + (frames - 1) * dt
    fastest = max(config.vehicle_speed_range[1], config.speed_range[1] + 1.5)
    span = view + config.speed_range[1] * (frames - 1) * dt + 45.0 + fastest * duration
    net = draw_layout(rng, layout, command, config, half_length=span + fastest * duration + 20.0)
    ego = plan_ego(rng, net, command, config, frames, dt)
    ego_xyyaw = ego.poses(np.arange(frames) * dt)  # (T, 3)
    vxy = max(grid.voxel_size[:2])
    world, parked = build_world(rng, net, config, grid, ego_xyyaw, view, density)
    reach = float(np.hypot(ego_xyyaw[:, 0], ego_xyyaw[:, 1]).max()) + view + 2.0
    signals = plan_signals(rng, net, ego)
    fleet = build_fleet(rng, net, ego, signals, config, density, span, config.warmup_s, vxy)
    walkers = build_walkers(rng, net, signals, config, density, reach, vxy)
    actors = simulate(fleet, walkers, ego, frames, dt, config.warmup_s, net.half_length)
    labels, seen = voxelize(world, actors, ego_xyyaw, grid, ego_height)
    poses = ego_poses(ego_xyyaw, ego_height, world_frame(rng) if config.randomize_world_frame else np.eye(4))
    counts = {
        "num_vehicles": int(
            (seen & (actors.cls == VEHICLE)).sum() + inside_grid(parked, ego_xyyaw, grid).sum()
        ),
        "num_pedestrians": int((seen & (actors.cls == PEDESTRIAN)).sum()),
        "num_bicycles": int((seen & (actors.cls == BICYCLE)).sum()),
    }
    meta = scene_meta(seed, net, ego, density, counts)
    return Scene(labels=labels, poses=poses, valid=None, name=f"synthtown_{seed:06d}", meta=meta)


def draw_pair(rng: np.random.Generator, config: SynthConfig) -> tuple[str, str]:
    """A (layout, command) pair drawn from the config's joint weights over compatible pairs."""
    weights = config.pair_weights().ravel()
    pick = int(rng.choice(len(weights), p=weights / weights.sum()))
    return LAYOUTS[pick // len(COMMANDS)], COMMANDS[pick % len(COMMANDS)]


def build_world(
    rng: np.random.Generator, net: RoadNetwork, config: SynthConfig, grid: GridSpec, ego_xyyaw: np.ndarray,
    view: float, density: float,
) -> tuple[WorldMap, np.ndarray]:  # fmt: skip
    """The static world raster over all that any frame's grid sees, and the parked cars' (N, 2) centres.

    Raster cells are half a voxel wide, coarser only where that would exceed MAX_MAP_CELLS.
    """
    vx, vy, vz = grid.voxel_size
    lo, hi = ego_xyyaw[:, :2].min(axis=0) - view - 1.0, ego_xyyaw[:, :2].max(axis=0) + view + 1.0
    res = max(min(vx, vy) / 2, float(np.sqrt(np.prod(hi - lo) / MAX_MAP_CELLS)))
    world = WorldMap.empty((lo[0], lo[1], hi[0], hi[1]), res, vz, max(vx, vy))
    span = float(np.abs(np.concatenate([lo, hi])).max()) * np.sqrt(2) + 30.0
    blocks = draw_blocks(rng, net, config, span)
    paint_ground(world, net, blocks, config, wall=max(float(rng.uniform(*config.wall_range)), world.vxy))
    street_trees_and_poles(world, net, rng, span)
    junction_poles(world, net, rng)
    greenery(world, net, blocks, rng)
    parked = parked_cars(world, net, rng, density, span)
    clutter(world, net, rng, span)
    return world, parked


def world_frame(rng: np.random.Generator) -> np.ndarray:
    """A random planar rigid transform (4, 4) float64: yaw in [-pi, pi), translation within +-500 m."""
    yaw = rng.uniform(-np.pi, np.pi)
    out = np.eye(4)
    out[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    out[:2, 3] = rng.uniform(-500.0, 500.0, 2)
    return out


def ego_poses(ego_xyyaw: np.ndarray, ego_height: float, frame: np.ndarray) -> np.ndarray:
    """(T, 4, 4) float64 ego-to-world transforms from planar poses (T, 3), placed by `frame` (4, 4)."""
    c, s = np.cos(ego_xyyaw[:, 2]), np.sin(ego_xyyaw[:, 2])
    poses = np.tile(np.eye(4), (len(ego_xyyaw), 1, 1))
    poses[:, 0, 0], poses[:, 0, 1], poses[:, 1, 0], poses[:, 1, 1] = c, -s, s, c
    poses[:, :2, 3] = ego_xyyaw[:, :2]
    poses[:, 2, 3] = ego_height
    return frame[None] @ poses


def scene_meta(seed: int, net: RoadNetwork, ego: Ego, density: float, counts: dict[str, int]) -> dict:
    """Plain JSON-serialisable facts about a scene."""
    return {
        "seed": int(seed),
        "layout": net.layout,
        "density": density_label(density),
        "density_value": round(density, 4),
        "ego_command": ego.command,
        "ego_speed_mps": round(float(ego.speed), 4),
        **counts,
        "arms_deg": [round(float(np.degrees(a))) for a in net.arms],
        "lanes_per_direction": int(net.lanes),
        "generator": "synthtown-1",
    }
