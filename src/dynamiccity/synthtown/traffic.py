"""Traffic: populate the lanes and walkways, then simulate vehicles that keep their distance and stop.

Vehicles follow their route at a desired speed and brake for whatever lies on their path ahead (other
vehicles, bicycles, pedestrians, the ego) and for red stop lines, using the safe-speed rule
v <= sqrt(v_lead^2 + 2 b (gap - g0)). Pedestrians walk at constant speed and ignore traffic. The ego
follows its own plan and reacts to nothing; `actors` arranges that nothing blocks it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dynamiccity.data.classes import BICYCLE, PEDESTRIAN, VEHICLE
from dynamiccity.synthtown.actors import (
    Fleet,
    Signals,
    Walkers,
    allowed_exits,
    crosswalk_walkers,
    has_arm,
    sidewalk_walkers,
    spawn_vehicles,
)
from dynamiccity.synthtown.config import SynthConfig
from dynamiccity.synthtown.ego import EGO_HALF, QUEUE_SPACING, Ego
from dynamiccity.synthtown.geometry import Path
from dynamiccity.synthtown.roads import WEST, RoadNetwork

BRAKE = 4.0
"""Comfortable deceleration b (m/s^2) of the safe-speed rule."""
ACCEL = 2.0
"""Acceleration (m/s^2) towards the desired speed."""
STANDSTILL_GAP = 2.0
"""Gap g0 (m) kept to the obstacle ahead when stopped."""
LOOKAHEAD = (2.0, 12)
"""Spacing (m) and count of the points along its route where a vehicle looks for obstacles."""
BIKE_RANGE = 50.0
"""Bicycles start within this distance (m) of the junction (or the end of their lane's spawn range)."""
SIM_STEP = 0.1
"""Longest simulation step (s); frames further apart are sub-stepped."""


@dataclass(frozen=True)
class Actors:
    """Oriented boxes of all dynamic actors over T frames; N actors.

    Attributes:
        xyyaw: (T, N, 3) float64 world x, y and yaw (rad) of each box centre.
        half: (N, 2) float64 half-length (along yaw) and half-width, metres.
        height: (N,) float64 height above the surface the actor stands on, metres.
        cls: (N,) uint8 common class id (VEHICLE, BICYCLE or PEDESTRIAN).
    """

    xyyaw: np.ndarray
    half: np.ndarray
    height: np.ndarray
    cls: np.ndarray


class RouteTable:
    """Poses of R routes sampled every `ds` metres over arclengths [lo, hi], for vectorised lookups."""

    def __init__(self, routes: list[Path], lo: float, hi: float, ds: float = 0.1):
        self.lo, self.ds = lo, ds
        s = np.arange(lo, hi + ds, ds)
        poses = np.stack([r.poses(s) for r in routes]) if routes else np.zeros((0, len(s), 3))
        self.table = np.concatenate([poses[..., :2], np.cos(poses[..., 2:]), np.sin(poses[..., 2:])], axis=-1)

    def lookup(self, route: np.ndarray, s: np.ndarray) -> np.ndarray:
        """(..., 3) x, y, yaw of routes `route` at arclengths `s` (broadcast together), interpolated."""
        pos = np.clip((s - self.lo) / self.ds, 0.0, self.table.shape[1] - 1.001)
        i0 = np.floor(pos).astype(np.int64)
        frac = (pos - i0)[..., None]
        row = (1 - frac) * self.table[route, i0] + frac * self.table[route, i0 + 1]  # (..., 4)
        return np.concatenate([row[..., :2], np.arctan2(row[..., 3:], row[..., 2:3])], axis=-1)


def build_fleet(
    rng: np.random.Generator, net: RoadNetwork, ego: Ego, signals: Signals, cfg: SynthConfig, density: float,
    span: float, warmup_s: float, vxy: float,
) -> Fleet:  # fmt: skip
    """Vehicles and bicycles on every lane within `span` metres of the junction (or of the origin)."""
    fleet = Fleet()
    s_ego = ego.s0 - ego.speed * warmup_s  # where the ego is when the simulation starts
    for arm in net.arms:
        is_green = has_arm(arm, signals.green)
        stop = -net.stop_distance if net.junction and not is_green else math.inf
        end = stop if net.junction and not is_green else (-(net.reach + 1.0) if net.junction else span)
        for lane in range(net.lanes):
            exits = allowed_exits(net, arm, lane, signals) if net.junction else list(net.exits(arm))
            ego_lane = has_arm(arm, (WEST,)) and lane == ego.lane
            top = min(end, s_ego - EGO_HALF[0] - 3.0) if ego_lane else end
            choices = [fleet.route_id(net, arm, b, lane) for b in exits]
            first = len(fleet.s)
            if choices:
                spawn_vehicles(rng, fleet, choices, (-span, top), cfg.vehicle_speed_range, density, stop, vxy)
            straight = [b for b in exits if not net.junction or abs(net.turn(arm, b)) < 1e-6]
            if lane == 0 and straight and not ego_lane and rng.random() < cfg.bicycle_prob:
                bikes = (max(-span, end - BIKE_RANGE), end)
                _spawn_bicycles(rng, fleet, net, (arm, straight[0]), bikes, cfg, stop, vxy, first)
    if net.junction:
        _outgoing(rng, fleet, net, ego, cfg, density, span, vxy)
    _ahead_of_ego(rng, fleet, net, ego, cfg, density, span, s_ego, vxy)
    return fleet


def _outgoing(
    rng: np.random.Generator, fleet: Fleet, net: RoadNetwork, ego: Ego, cfg: SynthConfig, density: float,
    span: float, vxy: float,
) -> None:  # fmt: skip
    """Vehicles already past the junction, driving out along every arm (not in the ego's exit lane)."""
    for arm in net.arms:
        for lane in range(net.lanes):
            if ego.speed > 0 and has_arm(arm, (ego.arm_out,)) and lane == ego.lane:
                continue
            route = fleet.route_id(net, arm + np.pi, arm, lane)
            first = len(fleet.s)
            lane_span = (net.reach + 2.0, span)
            spawn_vehicles(rng, fleet, [route], lane_span, cfg.vehicle_speed_range, density, math.inf, vxy)
            if lane == 0 and rng.random() < cfg.bicycle_prob:
                bikes = (net.reach + 2.0, BIKE_RANGE)
                _spawn_bicycles(rng, fleet, net, (arm + np.pi, arm), bikes, cfg, math.inf, vxy, first)


def _ahead_of_ego(
    rng: np.random.Generator, fleet: Fleet, net: RoadNetwork, ego: Ego, cfg: SynthConfig, density: float,
    span: float, s_ego: float, vxy: float,
) -> None:  # fmt: skip
    """A waiting queue in front of a static ego, or faster leaders on a driving ego's own route."""
    route = fleet.route_id(net, WEST, ego.arm_out, ego.lane)
    if ego.speed == 0.0:
        for i in range(ego.queue):
            half, height = _car(rng, vxy)
            fleet.add(route, ego.s0 + (i + 1) * QUEUE_SPACING, 0.0, math.inf, half, height, VEHICLE)
        return
    lo, hi = cfg.vehicle_speed_range
    speeds = (max(lo, ego.speed + 0.5), max(hi, ego.speed + 1.5))
    start = s_ego + EGO_HALF[0] + STANDSTILL_GAP + 2.0
    spawn_vehicles(rng, fleet, [route], (start, s_ego + span), speeds, density, math.inf, vxy)


def _car(rng: np.random.Generator, vxy: float) -> tuple[tuple[float, float], float]:
    """Half-size and height of a plain car."""
    half = (float(rng.uniform(2.05, 2.3)), float(max(rng.uniform(0.85, 1.0), vxy / 2)))
    return half, float(rng.uniform(1.4, 1.7))


def _spawn_bicycles(
    rng: np.random.Generator, fleet: Fleet, net: RoadNetwork, arms: tuple[float, float],
    span: tuple[float, float], cfg: SynthConfig, stop: float, vxy: float, lane_first: int,
) -> None:  # fmt: skip
    """One or two cyclists riding near the kerb edge of lane 0 from arms[0] to arms[1], in gaps between the
    lane's vehicles (fleet entries from `lane_first` on)."""
    route = fleet.route_id(net, arms[0], arms[1], 0, lateral=net.lane_width / 2 - 0.5)
    half = (0.9, max(0.3, vxy / 2))
    for s in rng.uniform(span[0], span[1], size=int(rng.integers(1, 3))):
        taken_s = np.array(fleet.s[lane_first:])  # (V,) the lane's vehicles and cyclists so far
        taken_half = np.array([h[0] for h in fleet.half[lane_first:]])
        if (np.abs(taken_s - s) > taken_half + half[0] + STANDSTILL_GAP).all():
            fleet.add(route, float(s), float(rng.uniform(*cfg.bicycle_speed_range)), stop, half, 1.7, BICYCLE)


def build_walkers(
    rng: np.random.Generator, net: RoadNetwork, signals: Signals, cfg: SynthConfig, density: float,
    span: float, vxy: float,
) -> Walkers:  # fmt: skip
    """Pedestrians on the sidewalks within `span` metres and on the crosswalks in use."""
    walks = sidewalk_walkers(rng, net, cfg, density, span) + crosswalk_walkers(rng, net, signals, density)
    n = len(walks)
    half = np.stack([np.full(n, max(0.3, vxy / 2)), np.full(n, max(0.25, vxy / 2))], axis=1)
    cols = list(zip(*walks, strict=True)) if walks else [()] * 5
    return Walkers(
        tuple(cols[0]), *(np.array(c, dtype=np.float64) for c in cols[1:]), half, rng.uniform(1.55, 1.9, n)
    )


def simulate(
    fleet: Fleet, walkers: Walkers, ego: Ego, frames: int, dt: float, warmup_s: float, span: float
) -> Actors:
    """Run the traffic for `warmup_s` seconds before frame 0 and through `frames` frames `dt` apart.

    Args:
        span: routes are tabulated over arclengths [-span, span]; vehicles stop at either end.
    """
    sub = max(1, math.ceil(dt / SIM_STEP - 1e-9))
    step = dt / sub
    n_warm = round(warmup_s / step)
    times = (np.arange(n_warm + (frames - 1) * sub + 1) - n_warm) * step  # seconds after frame 0
    record = n_warm + np.arange(frames) * sub
    table = RouteTable(fleet.routes, -span, span)
    route, s = np.array(fleet.route, np.int64), np.array(fleet.s, np.float64)
    v_des, stop = np.array(fleet.v_des, np.float64), np.array(fleet.stop_s, np.float64)
    half = np.array(fleet.half, np.float64).reshape(-1, 2)
    ego_pose = ego.poses(times)  # (S, 3)
    walk_pose = walkers.poses(times - times[0])  # (S, P, 3)
    obs_half = np.concatenate([half, walkers.half, np.array([EGO_HALF])])  # (J, 2)
    obs_speed = np.concatenate([np.zeros(len(s)), np.abs(walkers.v), [ego.speed]])  # (J,)
    v = v_des.copy()
    movers = np.zeros((frames, len(s), 3))
    for k in range(len(times)):
        pose = table.lookup(route, s)  # (M, 3)
        if k in record:
            movers[np.searchsorted(record, k)] = pose
        if k == len(times) - 1:
            break
        obstacles = np.concatenate([pose, walk_pose[k], ego_pose[k][None]])  # (J, 3)
        obs_speed[: len(s)] = v
        allow = _safe_speed(table, route, s, pose, half, obstacles, obs_speed, obs_half)
        gap_stop = stop - s - half[:, 0]
        v_stop = np.where(gap_stop > -0.5, np.sqrt(2 * BRAKE * np.clip(gap_stop - 0.3, 0.0, None)), np.inf)
        v = np.clip(np.minimum.reduce([v + ACCEL * step, v_des, allow, v_stop]), 0.0, None)
        s = s + v * step
    xyyaw = np.concatenate([movers, walk_pose[record]], axis=1)
    cls = np.concatenate([np.array(fleet.cls, np.uint8), np.full(len(walkers.paths), PEDESTRIAN, np.uint8)])
    height = np.concatenate([np.array(fleet.height, np.float64), walkers.height])
    return Actors(xyyaw, np.concatenate([half, walkers.half]), height, cls)


def _safe_speed(
    table: RouteTable, route: np.ndarray, s: np.ndarray, pose: np.ndarray, half: np.ndarray,
    obstacles: np.ndarray, obs_speed: np.ndarray, obs_half: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """(M,) the highest speed at which each mover can still stop behind the first obstacle on its route.

    Args:
        pose: (M, 3) movers' x, y, yaw; half: (M, 2) their half-sizes; obstacles: (J, 3) x, y, yaw of every
        actor (movers first, then pedestrians, then the ego) with speeds (J,) and half-sizes (J, 2).
    """
    m = len(s)
    spacing, count = LOOKAHEAD
    heading = np.stack([np.cos(pose[:, 2]), np.sin(pose[:, 2])], axis=1)  # (M, 2)
    rel = obstacles[None, :, :2] - pose[:, None, :2]  # (M, J, 2)
    along = (rel * heading[:, None]).sum(-1)  # (M, J)
    near = (along > 0) & ((rel**2).sum(-1) < (spacing * count + 8.0) ** 2)
    near[np.arange(m), np.arange(m)] = False
    i, j = np.nonzero(near)  # candidate (mover, obstacle) pairs
    allow = np.full(m, np.inf)
    if not len(i):
        return allow
    ahead = table.lookup(route[:, None], s[:, None] + spacing * np.arange(1, count + 1))  # (M, K, 3)
    d2 = ((ahead[i, :, :2] - obstacles[j, None, :2]) ** 2).sum(-1)  # (P, K)
    closest = d2.argmin(axis=1)  # (P,) lookahead point nearest each candidate
    hit = d2[np.arange(len(i)), closest] < (half[i, 1] + obs_half[j, 1] + 0.3) ** 2
    i, j, closest = i[hit], j[hit], closest[hit]
    # Distance along the route: the straight-line one on straight road, the lookahead's on a bend.
    dist = np.maximum(along[i, j], (closest + 0.5) * spacing)
    gap = dist - half[i, 0] - obs_half[j, 0]
    lead = obs_speed[j] * np.clip(np.cos(obstacles[j, 2] - ahead[i, closest, 2]), 0.0, 1.0)
    np.minimum.at(allow, i, np.sqrt(np.clip(lead**2 + 2 * BRAKE * (gap - STANDSTILL_GAP), 0.0, None)))
    return allow
