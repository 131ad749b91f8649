"""The ego vehicle's drive: its route, where along it the scene starts, and its constant speed.

The ego arrives on arm WEST heading +x. Its window of frames is placed so that the intended command is
what the poses show under `data.derive.ego_command`'s rule: a "left"/"right" window contains the middle of
the route's arc (yaw changes every step there), a "forward" window stays on straight road (yaw constant),
and a "static" ego never moves (identical poses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynamiccity.synthtown.config import SynthConfig
from dynamiccity.synthtown.geometry import Arc, Path
from dynamiccity.synthtown.roads import EAST, NORTH, SOUTH, WEST, RoadNetwork

EGO_HALF = (2.3, 1.0)
"""Half-length and half-width of the ego vehicle (m); it is never drawn."""

QUEUE_SPACING = 7.0
"""Distance between the centres of cars waiting in a queue (m)."""

MIN_STEP, YAW_STEP = 0.05, 0.003
"""Least distance (m) and turn (rad) per frame of a moving ego, above the thresholds (0.03 m, 0.0025 rad)
of `data.derive.CommandRule`; they raise the drawn speed only at unusually high frame rates."""


@dataclass(frozen=True)
class Ego:
    """The ego's drive along `route` at constant `speed` (m/s); it is at arclength `s0` in frame 0.

    Attributes:
        arm_out: the arm the route leaves by; lane: the lane index it drives in.
        queue: cars waiting right ahead of a static ego (placed by the traffic model).
    """

    command: str
    route: Path
    arm_out: float
    lane: int
    s0: float
    speed: float
    queue: int

    def s_at(self, time: np.ndarray) -> np.ndarray:
        """Arclengths (N,) at times (N,) seconds after frame 0 (negative during warm-up)."""
        return self.s0 + self.speed * np.asarray(time, dtype=np.float64)

    def poses(self, time: np.ndarray) -> np.ndarray:
        """(N, 3) float64 world x, y, yaw at times (N,) seconds after frame 0."""
        return self.route.poses(self.s_at(time))


def plan_ego(
    rng: np.random.Generator, net: RoadNetwork, command: str, cfg: SynthConfig, frames: int, dt: float
) -> Ego:
    """Draw the ego's lane, speed and start so that its `frames` poses, `dt` seconds apart, show `command`."""
    arm_out = _exit_arm(rng, net, command)
    lane = {"left": net.lanes - 1, "right": 0}.get(command, int(rng.integers(net.lanes)))
    route = net.route(WEST, arm_out, lane)
    if command == "static":
        return _static(rng, net, route, arm_out, lane)
    turning = command in ("left", "right")
    speed_range = cfg.turn_speed_range if turning and net.junction else cfg.speed_range
    speed = max(float(rng.uniform(*speed_range)), MIN_STEP / dt)
    if turning:  # yaw must change by more than YAW_STEP per frame on the arc
        radius = next(p.radius for p in route.pieces if isinstance(p, Arc))
        speed = max(speed, YAW_STEP * radius / dt)
    travel = speed * (frames - 1) * dt
    if turning:
        s_lo, s_hi = route.arc_range()
        s0 = 0.5 * (s_lo + s_hi) - rng.uniform(0.2, 0.8) * travel
    elif net.layout == "curve":
        s0 = route.arc_range()[0] - travel - rng.uniform(1.0, 20.0)
    else:
        s0 = rng.uniform(-travel - 25.0, 5.0)
    return Ego(command, route, arm_out, lane, float(s0), speed, 0)


def _exit_arm(rng: np.random.Generator, net: RoadNetwork, command: str) -> float:
    """The arm the ego leaves by: straight on, or the arm on the side of its turn."""
    wanted = {"forward": EAST, "left": NORTH, "right": SOUTH}.get(command)
    exits = net.exits(WEST)
    if wanted is not None and any(abs(a - wanted) < 1e-6 for a in exits):
        return wanted
    if wanted is not None and net.layout != "curve":
        raise ValueError(f"layout {net.layout} with arms {net.arms} cannot realise ego command {command!r}.")
    straight = [a for a in exits if abs(a - EAST) < 1e-6]
    return straight[0] if straight else exits[int(rng.integers(len(exits)))]


def _static(rng: np.random.Generator, net: RoadNetwork, route: Path, arm_out: float, lane: int) -> Ego:
    """A static ego: waiting at a red light (junctions) or stopped in a queue of traffic."""
    if net.junction:
        queue = int(rng.integers(0, 3))
        s0 = -net.stop_distance - 0.8 - EGO_HALF[0] - queue * QUEUE_SPACING
    else:
        queue = int(rng.integers(1, 4))
        s0 = float(rng.uniform(-30.0, 10.0))
    return Ego("static", route, arm_out, lane, float(s0), 0.0, queue)
