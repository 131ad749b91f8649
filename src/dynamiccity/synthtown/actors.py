"""Who is on the streets: vehicles and bicycles on lane routes, pedestrians on walkways.

Junction layouts run one signal phase for the whole scene. When the ego drives, its arm is green (with
the opposite arm, unless the ego turns left, which then gets a protected phase); when it is static, its
arm is red and the cross street is green. Vehicles turn left only when no oncoming arm is green, so
green routes never cross. Vehicles ahead of a driving ego follow the ego's own route faster than it, so
nothing in front of the ego ever blocks it; pedestrians cross only red arms the ego does not enter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dynamiccity.data.classes import VEHICLE
from dynamiccity.synthtown.config import SynthConfig
from dynamiccity.synthtown.ego import Ego
from dynamiccity.synthtown.geometry import Path, Segment, left_normal, unit, wrap
from dynamiccity.synthtown.props import on_strip
from dynamiccity.synthtown.roads import WEST, RoadNetwork

Walk = tuple[Path, float, float, float, float]
"""One pedestrian: (walkway path, start arclength s0, signed speed v in m/s, lowest and highest arclength)."""


@dataclass
class Fleet:
    """Vehicles and bicycles before simulation: one entry per mover in each list (M movers).

    `routes` holds the distinct paths; `route` indexes them. `stop_s` is the arclength of a red stop
    line ahead (inf when none); `v_des` the desired speed (0 for a car that waits all scene long).
    """

    routes: list[Path] = field(default_factory=list)
    keys: dict[tuple, int] = field(default_factory=dict)
    route: list[int] = field(default_factory=list)
    s: list[float] = field(default_factory=list)
    v_des: list[float] = field(default_factory=list)
    stop_s: list[float] = field(default_factory=list)
    half: list[tuple[float, float]] = field(default_factory=list)
    height: list[float] = field(default_factory=list)
    cls: list[int] = field(default_factory=list)

    def route_id(
        self, net: RoadNetwork, arm_in: float, arm_out: float, lane: int, lateral: float = 0.0
    ) -> int:
        """Index of the lane route (built once per key)."""
        key = (round(arm_in, 6), round(arm_out, 6), lane, round(lateral, 3))
        if key not in self.keys:
            self.keys[key] = len(self.routes)
            self.routes.append(net.route(arm_in, arm_out, lane, lateral))
        return self.keys[key]

    def add(
        self,
        route: int,
        s: float,
        v_des: float,
        stop_s: float,
        half: tuple[float, float],
        height: float,
        cls: int,
    ) -> None:
        """Append one mover."""
        self.route.append(route)
        self.s.append(s)
        self.v_des.append(v_des)
        self.stop_s.append(stop_s)
        self.half.append(half)
        self.height.append(height)
        self.cls.append(cls)


@dataclass(frozen=True)
class Walkers:
    """P pedestrians, each walking its path from arclength s0 at speed v (m/s, negative: backwards),
    clamped to [lo, hi]; (P,) float64 arrays, half (P, 2) half-length and half-width, height (P,) metres."""

    paths: tuple[Path, ...]
    s0: np.ndarray
    v: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    half: np.ndarray
    height: np.ndarray

    def poses(self, time: np.ndarray) -> np.ndarray:
        """(N, P, 3) float64 world x, y, yaw at times (N,) seconds after the walk starts."""
        out = np.empty((len(time), len(self.paths), 3))
        for k, path in enumerate(self.paths):
            s = np.clip(self.s0[k] + self.v[k] * time, self.lo[k], self.hi[k])
            out[:, k] = path.poses(s)
            out[:, k, 2] += np.pi if self.v[k] < 0 else 0.0
        return out


@dataclass(frozen=True)
class Signals:
    """The scene's signal phase: arms with a green light, and red arms whose crosswalk is in use (no
    vehicle turns into those, so crossing pedestrians never meet traffic)."""

    green: tuple[float, ...]
    crosswalks: tuple[float, ...]


def plan_signals(rng: np.random.Generator, net: RoadNetwork, ego: Ego) -> Signals:
    """Green arms and used crosswalks; every arm is green and no crosswalk is used without a junction."""
    if not net.junction:
        return Signals(net.arms, ())
    if ego.command == "static":
        green = tuple(a for a in net.arms if abs(np.sin(a)) > 0.5)
    elif ego.command == "left":
        green = (WEST,)
    else:
        green = tuple(a for a in net.arms if abs(np.sin(a)) < 0.5)
    red = [
        a for a in net.arms if not has_arm(a, green) and not (ego.speed > 0 and has_arm(a, (ego.arm_out,)))
    ]
    return Signals(green, tuple(a for a in red if rng.random() < 0.7))


def has_arm(arm: float, arms: tuple[float, ...]) -> bool:
    """Whether `arm` (yaw) is one of `arms`, up to 2 pi."""
    return any(abs(wrap(arm - a)) < 1e-6 for a in arms)


def vehicle_size(rng: np.random.Generator, vxy: float) -> tuple[tuple[float, float], float]:
    """Half-length, half-width and height (m) of a car (83 %), van (12 %) or bus/truck (5 %)."""
    kind = rng.random()
    if kind < 0.83:
        half, height = (rng.uniform(2.05, 2.45), rng.uniform(0.85, 1.0)), rng.uniform(1.4, 1.7)
    elif kind < 0.95:
        half, height = (rng.uniform(2.6, 3.2), rng.uniform(1.0, 1.15)), rng.uniform(2.0, 2.6)
    else:
        half, height = (rng.uniform(4.0, 5.5), 1.25), rng.uniform(3.0, 3.5)
    return (float(half[0]), float(max(half[1], vxy / 2))), float(height)


def mean_gap(density: float) -> float:
    """Mean free gap between successive vehicles of a lane (m): 66 m at density 0, 6 m at density 1."""
    return 6.0 + 60.0 * (1.0 - density) ** 2


def spawn_vehicles(
    rng: np.random.Generator, fleet: Fleet, choices: list[int], span: tuple[float, float],
    speed: tuple[float, float], density: float, stop_s: float, vxy: float,
) -> None:  # fmt: skip
    """Fill arclengths span = (lo, hi) of a lane with vehicles on routes drawn from `choices`."""
    s = span[0] + rng.uniform(0.0, mean_gap(density))
    while True:
        half, height = vehicle_size(rng, vxy)
        if s + 2 * half[0] > span[1]:
            return
        v_des = float(rng.uniform(*speed))
        fleet.add(choices[int(rng.integers(len(choices)))], s + half[0], v_des, stop_s, half, height, VEHICLE)
        s += 2 * half[0] + 2.0 + v_des * 0.8 + rng.exponential(mean_gap(density))


def allowed_exits(net: RoadNetwork, arm: float, lane: int, signals: Signals) -> list[float]:
    """Exits a vehicle in `lane` arriving on `arm` may take: straight from any lane, right from the kerb
    lane, left from the inner lane when no oncoming arm is green; never into a crosswalk in use."""
    oncoming_green = has_arm(arm + np.pi, signals.green)
    out = []
    for b in net.exits(arm):
        turn = net.turn(arm, b)
        if has_arm(b, signals.crosswalks):
            continue
        if (
            abs(turn) < 1e-6
            or (turn < 0 and lane == 0)
            or (turn > 0 and lane == net.lanes - 1 and not oncoming_green)
        ):
            out.append(b)
    return out


def crosswalk_walkers(
    rng: np.random.Generator, net: RoadNetwork, signals: Signals, density: float
) -> list[Walk]:
    """Pedestrians on the crosswalks in use, walking from kerb to kerb (some still waiting at the start)."""
    out = []
    for arm in signals.crosswalks:
        probe = 20.0 * unit(arm)[None]
        e, _, _ = net.kerb_distances(probe)
        half_width = float(net.roads[int(e.argmin())].half_width)
        length = 2 * half_width + net.sidewalk
        centre = net.crosswalk_distance * unit(arm)
        start = centre - 0.5 * length * left_normal(arm)
        path = Path((Segment(tuple(start), float(arm + np.pi / 2), float(length)),), 0.0)
        for _ in range(rng.poisson(0.5 + 2.5 * density)):
            s0 = float(rng.uniform(0.0, 0.7 * length))  # metres walked already
            speed = float(rng.uniform(1.0, 1.6))
            if rng.random() < 0.5:  # crossing the other way
                s0, speed = length - s0, -speed
            out.append((path, s0, speed, 0.0, length))
    return out


def sidewalk_walkers(
    rng: np.random.Generator, net: RoadNetwork, cfg: SynthConfig, density: float, span: float
) -> list[Walk]:
    """Pedestrians walking along (or standing on) the sidewalks, within arclengths [-span, span] of each
    road and never onto another road."""
    out = []
    lat_lo = min(1.2, net.sidewalk / 2)
    lat_hi = max(lat_lo, net.sidewalk - 0.4)
    grid = np.arange(-span, span, 1.0)
    for road, spec in enumerate(net.roads):
        for side in (1, -1):
            count = rng.poisson((1.0 + 7.0 * density) * 2 * span / 100.0)
            for _ in range(count):
                path = spec.path.offset(side * (spec.half_width + rng.uniform(lat_lo, lat_hi)))
                ok = on_strip(net, road, path.poses(grid)[:, :2], 0.0, net.sidewalk)
                if not ok.any():
                    continue
                start = int(rng.choice(np.flatnonzero(ok)))
                lo, hi = _run(ok, start)
                speed = 0.0 if rng.random() < 0.2 else float(rng.uniform(*cfg.pedestrian_speed_range))
                speed *= 1.0 if rng.random() < 0.5 else -1.0
                out.append((path, float(grid[start]), speed, float(grid[lo]), float(grid[hi])))
    return out


def _run(ok: np.ndarray, index: int) -> tuple[int, int]:
    """First and last index of the run of True values in `ok` (N,) bool that contains `index`."""
    lo, hi = index, index
    while lo > 0 and ok[lo - 1]:
        lo -= 1
    while hi < len(ok) - 1 and ok[hi + 1]:
        hi += 1
    return lo, hi
