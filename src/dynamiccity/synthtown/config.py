"""The knobs of the SynthTown generator: one frozen dataclass, checked on construction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

LAYOUTS: tuple[str, ...] = ("straight", "curve", "t_junction", "crossroads")
"""Road layouts, in the order of `SynthConfig.layout_weights`."""

COMMANDS: tuple[str, ...] = ("static", "forward", "left", "right")
"""Ego commands, in the order of `SynthConfig.command_weights` (the order of `data.derive.Command`)."""

COMPATIBLE: dict[str, tuple[str, ...]] = {
    "straight": ("static", "forward"),
    "curve": COMMANDS,
    "t_junction": COMMANDS,
    "crossroads": COMMANDS,
}
"""The ego commands each layout can realise (no turns on a straight road)."""

DENSITY_LABELS: tuple[str, ...] = ("low", "medium", "high")
"""Traffic density labels for density values in [0, 1/3), [1/3, 2/3) and [2/3, 1]."""

Range = tuple[float, float]


@dataclass(frozen=True)
class SynthConfig:
    """How SynthTown scenes are drawn. Lengths in metres, speeds in m/s, times in seconds.

    A layout and an ego command are drawn jointly with probability proportional to
    `layout_weights[l] * command_weights[c]` over the compatible pairs (`COMPATIBLE`); put all the weight on
    one entry to force a layout or a command.

    Attributes:
        layout_weights: weights of ("straight", "curve", "t_junction", "crossroads").
        command_weights: weights of ("static", "forward", "left", "right").
        speed_range: ego speed of forward drives and of turns along a curved road.
        turn_speed_range: ego speed of left/right turns at a junction.
        density_range: traffic density in [0, 1]; it sets vehicle gaps, parked cars and pedestrians.
        vehicle_speed_range: desired speed of moving vehicles.
        bicycle_speed_range: desired speed of bicycles.
        pedestrian_speed_range: walking speed of pedestrians (a fifth of them stand still).
        bicycle_prob: chance that a lane away from the ego carries bicycles.
        lane_width_range: width of one lane.
        two_lane_prob: chance that a road has two lanes per direction instead of one.
        parking_prob: chance that a road has a parking strip along each kerb.
        sidewalk_width_range: width of the sidewalks.
        curve_radius_range: centreline radius of the bend of the "curve" layout.
        building_height_range: building heights (most exceed a CarlaSC grid's top).
        building_interior: "hollow" draws buildings as walls around an unobserved (free) interior, as
            lidar-derived labels such as CarlaSC's show them; "solid" fills the whole footprint.
        wall_range: thickness of building walls when hollow.
        ground_frac: ground level in the ego frame, as a fraction of the grid's z extent above its bottom
            (0.1 puts it at z = -1.7 m for CarlaSC's [-2, 1) m).
        warmup_s: simulated traffic time before the first frame, so queues have formed.
        randomize_world_frame: put the scene at a random planar rigid transform of the world frame.
    """

    layout_weights: tuple[float, float, float, float] = (0.15, 0.2, 0.3, 0.35)
    command_weights: tuple[float, float, float, float] = (0.15, 0.35, 0.25, 0.25)
    speed_range: Range = (3.0, 12.0)
    turn_speed_range: Range = (3.0, 6.0)
    density_range: Range = (0.0, 1.0)
    vehicle_speed_range: Range = (5.0, 11.0)
    bicycle_speed_range: Range = (3.0, 6.0)
    pedestrian_speed_range: Range = (0.7, 1.6)
    bicycle_prob: float = 0.35
    lane_width_range: Range = (3.0, 3.75)
    two_lane_prob: float = 0.3
    parking_prob: float = 0.5
    sidewalk_width_range: Range = (2.5, 4.5)
    curve_radius_range: Range = (12.0, 30.0)
    building_height_range: Range = (4.0, 25.0)
    building_interior: Literal["hollow", "solid"] = "hollow"
    wall_range: Range = (1.0, 1.6)
    ground_frac: float = 0.1
    warmup_s: float = 2.0
    randomize_world_frame: bool = True

    def __post_init__(self) -> None:
        _check_weights("layout_weights", self.layout_weights, len(LAYOUTS))
        _check_weights("command_weights", self.command_weights, len(COMMANDS))
        ranges = (
            "speed_range", "turn_speed_range", "density_range", "vehicle_speed_range", "bicycle_speed_range",
            "pedestrian_speed_range", "lane_width_range", "sidewalk_width_range", "curve_radius_range",
            "building_height_range", "wall_range",
        )  # fmt: skip
        for name in ranges:
            lo, hi = getattr(self, name)
            if not 0.0 <= lo <= hi:
                raise ValueError(f"{name} must be (lo, hi) with 0 <= lo <= hi, got {(lo, hi)}.")
        if self.speed_range[0] < 1.0 or self.turn_speed_range[0] < 1.0:
            raise ValueError("ego speeds must be at least 1 m/s so that a moving ego visibly moves.")
        if self.density_range[1] > 1.0:
            raise ValueError(f"density_range must lie in [0, 1], got {self.density_range}.")
        if self.sidewalk_width_range[0] < 1.5 or self.lane_width_range[0] < 2.5:
            raise ValueError("sidewalks must be at least 1.5 m and lanes at least 2.5 m wide.")
        if self.curve_radius_range[0] < 8.0 or self.curve_radius_range[1] > 60.0:
            raise ValueError(f"curve_radius_range must lie in [8, 60] m, got {self.curve_radius_range}.")
        if self.building_interior not in ("hollow", "solid"):
            raise ValueError(
                f"building_interior must be 'hollow' or 'solid', got {self.building_interior!r}."
            )
        for name in ("bicycle_prob", "two_lane_prob", "parking_prob", "ground_frac"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}.")
        if self.warmup_s < 0.0:
            raise ValueError(f"warmup_s must be >= 0, got {self.warmup_s}.")
        if not self.pair_weights().any():
            raise ValueError("no layout/command pair has positive weight (a straight road cannot turn).")

    def pair_weights(self) -> np.ndarray:
        """(4, 4) float64 joint weights of (layout, command) pairs, zero where incompatible."""
        weights = np.outer(self.layout_weights, self.command_weights)
        for i, layout in enumerate(LAYOUTS):
            for j, command in enumerate(COMMANDS):
                if command not in COMPATIBLE[layout]:
                    weights[i, j] = 0.0
        return weights


def density_label(density: float) -> str:
    """The label ("low", "medium", "high") of a density value in [0, 1]."""
    return DENSITY_LABELS[min(int(density * 3.0), 2)]


def _check_weights(name: str, weights: tuple[float, ...], size: int) -> None:
    if len(weights) != size or any(w < 0.0 for w in weights) or sum(weights) <= 0.0:
        raise ValueError(f"{name} must be {size} non-negative weights with a positive sum, got {weights}.")
