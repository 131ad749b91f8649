"""Road layouts: the road centrelines of a scene, their widths, and the lane routes vehicles drive on.

Every layout is built around the world origin. Arms are the directions (yaw, radians) in which roads
leave the origin; the ego always arrives along the arm at yaw = pi, heading +x. Traffic keeps right: the
lanes of a direction lie right of the road centreline, lane 0 the rightmost (by the kerb or parking
strip) and lane `lanes - 1` next to the centreline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynamiccity.synthtown.config import SynthConfig
from dynamiccity.synthtown.geometry import Path, fillet_path, left_normal, line_path, ray_path, wrap

PARKING_WIDTH = 2.2
"""Width of a parking strip along the kerb (m)."""

CROSSWALK_WIDTH = 3.0
"""Width of a crosswalk (m); it lies between the junction box and the stop line."""

EAST, NORTH, WEST, SOUTH = 0.0, np.pi / 2, np.pi, -np.pi / 2


@dataclass(frozen=True)
class Road:
    """One road: its centreline, half-width from centreline to kerb, and whether it has parking strips."""

    path: Path
    half_width: float
    parking: bool


@dataclass(frozen=True)
class RoadNetwork:
    """The roads of a scene and the geometry every other part derives from them.

    Attributes:
        layout: "straight", "curve", "t_junction" or "crossroads".
        arms: outward yaw of each arm; the ego arrives on arm WEST.
        roads: the road centrelines (a through road per pair of opposite arms, a ray per single arm).
        lanes: lanes per direction; lane_width: metres; sidewalk: sidewalk width, metres.
        curve_centre: centre of the bend of a "curve" layout (None otherwise).
        reach: half-size of the junction box (0 without a junction).
        half_length: how far the roads reach from the origin.
    """

    layout: str
    arms: tuple[float, ...]
    roads: tuple[Road, ...]
    lanes: int
    lane_width: float
    sidewalk: float
    curve_centre: tuple[float, float] | None
    reach: float
    half_length: float

    @property
    def junction(self) -> bool:
        return self.layout in ("t_junction", "crossroads")

    @property
    def stop_distance(self) -> float:
        """Distance of stop lines from the junction centre along their arm."""
        return self.reach + 1.0 + CROSSWALK_WIDTH

    @property
    def crosswalk_distance(self) -> float:
        """Distance of crosswalk centre lines from the junction centre along their arm."""
        return self.reach + 0.5 + CROSSWALK_WIDTH / 2

    def lane_offset(self, lane: int) -> float:
        """Distance of a lane's centre line from the road centreline (m); lane 0 is by the kerb."""
        return (self.lanes - lane - 0.5) * self.lane_width

    def exits(self, arm: float) -> tuple[float, ...]:
        """The arms a vehicle arriving on `arm` may leave by (every other arm; no U-turns)."""
        return tuple(b for b in self.arms if abs(wrap(b - arm)) > 1e-6)

    def turn(self, arm_in: float, arm_out: float) -> float:
        """Heading change (rad) of the route from `arm_in` to `arm_out`: > 0 left, < 0 right, 0 straight."""
        return float(wrap(arm_out - (arm_in + np.pi)))

    def route(self, arm_in: float, arm_out: float, lane: int, lateral: float = 0.0) -> Path:
        """The path of lane `lane` from `arm_in` to `arm_out`, shifted `lateral` metres right of the lane.

        s = 0 where the incoming lane passes the junction centre; s < 0 before it.
        """
        yaw_in, yaw_out = arm_in + np.pi, arm_out
        offset = self.lane_offset(lane) + lateral
        point_in = tuple(-offset * left_normal(yaw_in))
        point_out = tuple(-offset * left_normal(yaw_out))
        turn = self.turn(arm_in, arm_out)
        if abs(turn) < 1e-6:
            return line_path(point_in, yaw_in, self.half_length)
        if self.curve_centre is not None:
            radius = abs(float((np.asarray(self.curve_centre) - point_in) @ left_normal(yaw_in)))
        elif turn > 0:
            radius = self.reach + self.lane_offset(self.lanes - 1) - 0.5
        else:
            radius = max(2.5, self.reach - self.lane_offset(0) + 1.0)
        return fillet_path(point_in, yaw_in, point_out, yaw_out, radius, self.half_length)

    def kerb_distances(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where `points` (N, 2) lie relative to every road.

        Returns three (R, N) float64 arrays: e, the distance beyond the road's kerb (< 0 on the road; inf
        where the point lies beyond an end of the road); s, the arclength along the road; d, the signed
        lateral offset from its centreline (left > 0).
        """
        e, s, d = np.empty((3, len(self.roads), len(points)))
        for k, road in enumerate(self.roads):
            s[k], d[k], dist = road.path.project(points)
            ends = (s[k] <= road.path.s0 + 1e-6) | (s[k] >= road.path.s1 - 1e-6)
            e[k] = np.where(ends, np.inf, dist - road.half_width)  # a road ends square, not rounded
        return e, s, d


def draw_layout(
    rng: np.random.Generator, layout: str, command: str, cfg: SynthConfig, half_length: float
) -> RoadNetwork:
    """A random road network of `layout` in which the ego (arriving on arm WEST) can follow `command`."""
    lanes = 2 if rng.random() < cfg.two_lane_prob else 1
    lane_width = float(rng.uniform(*cfg.lane_width_range))
    sidewalk = float(rng.uniform(*cfg.sidewalk_width_range))
    arms = _draw_arms(rng, layout, command)
    curve_centre = None
    paths: list[Path] = []
    if layout in ("straight", "curve"):
        radius = float(rng.uniform(*cfg.curve_radius_range))
        yaw_out = arms[1]
        paths.append(fillet_path((0.0, 0.0), 0.0, (0.0, 0.0), yaw_out, radius, half_length))
        if layout == "curve":
            curve_centre = (-radius, float(np.sign(yaw_out)) * radius)
    else:
        for arm in arms:
            opposite = any(abs(wrap(b - arm - np.pi)) < 1e-6 for b in arms)
            if not opposite:
                paths.append(ray_path(arm, half_length))
            elif np.cos(arm) > 0.5 or np.sin(arm) > 0.5:  # one through road per axis, drawn once
                paths.append(line_path((0.0, 0.0), arm, half_length))
    roads = []
    for path in paths:
        parking = bool(rng.random() < cfg.parking_prob)
        roads.append(Road(path, lanes * lane_width + (PARKING_WIDTH if parking else 0.0), parking))
    reach = max(r.half_width for r in roads) if layout in ("t_junction", "crossroads") else 0.0
    return RoadNetwork(
        layout, arms, tuple(roads), lanes, lane_width, sidewalk, curve_centre, reach, half_length
    )


def _draw_arms(rng: np.random.Generator, layout: str, command: str) -> tuple[float, ...]:
    """Arm yaws of a layout such that the ego arriving on WEST can go `command`."""
    if layout == "straight":
        return (WEST, EAST)
    side = {"left": NORTH, "right": SOUTH}.get(command, NORTH if rng.random() < 0.5 else SOUTH)
    if layout == "curve":
        return (WEST, side)
    if layout == "crossroads":
        return (WEST, EAST, NORTH, SOUTH)
    if command != "forward" and rng.random() < 0.5:
        return (WEST, NORTH, SOUTH)  # the ego arrives on the stem of the T
    return (WEST, EAST, side)
