"""Ego-motion metrics of generated or reconstructed scenes: the command and trajectory their voxels show
(registered by `metrics.registration`) against the requested or true ones, and the accumulator of
`eval-vae --ego-motion`.

Two rules name a window's command in this package: `data.derive.ego_command` reads it from poses frame
step by frame step (the release's rule, the DiT's condition), and `window_command` here from the whole
window's trajectory (for estimates, whose frame-to-frame jitter would trip the step rule).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dynamiccity.data.classes import FREE, ROAD
from dynamiccity.data.derive import NO_COMMAND, Command
from dynamiccity.data.windows import Window
from dynamiccity.metrics.registration import estimate_trajectory

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class CommandThresholds:
    """The whole-window rule of `window_command`, measured on SynthTown (40 scenes, 360 windows of 8 frames
    at 10 Hz, 64 x 64 x 8 at 0.8 m; also with 10-60 % of voxels relabelled, dropped or salted):

    min_travel_m: STATIC below this distance from the start. A moving ego gets >= 2.2 m away (3 m/s for
        0.7 s) and is estimated >= 1.9 m; a static ego's estimate stays within 0.01 m, and its path stays
        under 0.7 m under heavy noise. 1 m (~1 voxel) sits between.
    turn_yaw_rad: LEFT / RIGHT beyond this yaw at the last frame. True turns end >= 0.15 rad off (9 deg)
        and are estimated so; straight drives are estimated within 0.007 rad, 0.02 rad under heavy noise.
        0.1 rad (6 deg) sits between and is more than a lane change turns.
    """

    min_travel_m: float = 1.0
    turn_yaw_rad: float = 0.1


DEFAULT_THRESHOLDS = CommandThresholds()


def window_command(trajectory: np.ndarray, thresholds: CommandThresholds = DEFAULT_THRESHOLDS) -> Command:
    """The ego command of a window from its (T, 3) trajectory (x, y metres, yaw radians, in the first
    frame's ego frame): one whole-window rule, for estimated and true trajectories alike.

    STATIC if the ego never gets `min_travel_m` from where it started, else LEFT / RIGHT if the last
    frame's yaw is beyond +-`turn_yaw_rad`, else FORWARD. The distance from the start rather than the path
    length keeps frame-to-frame jitter of an estimate from adding up. `CommandThresholds` holds the values
    and why.
    """
    trajectory = np.asarray(trajectory, dtype=np.float64)
    if trajectory.ndim != 2 or trajectory.shape[1] != 3 or len(trajectory) < 1:
        raise ValueError(f"trajectory must be (T, 3) x, y, yaw, got shape {trajectory.shape}.")
    reach = float(np.linalg.norm(trajectory[:, :2] - trajectory[0, :2], axis=1).max())
    if reach < thresholds.min_travel_m:
        return Command.STATIC
    yaw = float(np.angle(np.exp(1j * (trajectory[-1, 2] - trajectory[0, 2]))))
    if yaw > thresholds.turn_yaw_rad:
        return Command.LEFT
    if yaw < -thresholds.turn_yaw_rad:
        return Command.RIGHT
    return Command.FORWARD


def estimate_command(
    labels: np.ndarray, voxel_size: tuple[float, float], thresholds: CommandThresholds = DEFAULT_THRESHOLDS
) -> Command:
    """The ego command (STATIC / FORWARD / LEFT / RIGHT) that a label sequence (T, X, Y, Z) shows: the
    whole-window rule of `window_command` (thresholds and why: `CommandThresholds`) applied to
    `estimate_trajectory(labels, voxel_size)`."""
    return window_command(estimate_trajectory(labels, voxel_size), thresholds)


def trajectory_errors(estimated: np.ndarray, requested: np.ndarray) -> dict[str, float]:
    """Planar displacement errors between two trajectories (T, >=2) in the same frame (x, y first, metres).

    Returns:
        {"ade": mean over all T frames of the planar distance, "fde": the distance at the last frame},
        metres.
    """
    est, req = np.asarray(estimated, dtype=np.float64), np.asarray(requested, dtype=np.float64)
    if est.ndim != 2 or req.ndim != 2 or est.shape[0] != req.shape[0] or min(est.shape[1], req.shape[1]) < 2:
        raise ValueError(f"trajectories must both be (T, >=2) with one T, got {est.shape} and {req.shape}.")
    if len(est) == 0:
        raise ValueError("trajectories must hold at least one frame.")
    distance = np.linalg.norm(est[:, :2] - req[:, :2], axis=1)
    return {"ade": float(distance.mean()), "fde": float(distance[-1])}


def ego_on_road(labels: np.ndarray, road: int = ROAD) -> np.ndarray:
    """(T, X, Y, Z) labels in ego coordinates -> (T,) bool: whether the ego stands on road in each frame.

    The ego sits at the centre of the grid and is never drawn; what it stands on is the lowest occupied voxel
    of the 2 x 2 columns around the centre. A frame is on road when at least three of the four are road.
    In real SynthTown every frame is (every eighth window of seed 4043, 1,184 columns: all road); a
    generator that draws the world without the ego in mind puts it on sidewalks, lots and buildings."""
    labels = np.asarray(labels)
    if labels.ndim != 4:
        raise ValueError(f"labels must be (T, X, Y, Z), got shape {labels.shape}.")
    x, y = labels.shape[1] // 2, labels.shape[2] // 2
    columns = labels[:, x - 1 : x + 1, y - 1 : y + 1].reshape(len(labels), 4, -1)
    occupied = columns != FREE
    lowest = np.take_along_axis(columns, occupied.argmax(-1)[..., None], -1)[..., 0]
    return ((lowest == road) & occupied.any(-1)).sum(1) >= 3


class EgoMotionThrough:
    """Whether a VAE lets the ego's motion through: the ego trajectory and command measured from each input
    window and from its reconstruction (`metrics.egomotion`, registration of the static world), against the
    window's true ones from its poses. A decoder that draws a moving window's world frozen reads STATIC."""

    def __init__(self, voxel_size: tuple[float, float], to_common) -> None:
        self.voxel_size, self.to_common = voxel_size, to_common
        self.rows: list[tuple[str, str, str, dict, dict]] = []

    def __call__(self, window: Window, pred: torch.Tensor) -> None:
        if window.command == NO_COMMAND:
            return
        read = []
        for labels in (window.labels, pred.numpy()):
            trajectory = estimate_trajectory(self.to_common(labels.astype(np.uint8)), self.voxel_size)
            read.append((window_command(trajectory).name, trajectory_errors(trajectory, window.trajectory)))
        (seen, seen_err), (drawn, drawn_err) = read
        self.rows.append((Command(window.command).name, seen, drawn, seen_err, drawn_err))

    def result(self) -> dict:
        if not self.rows:
            return {"windows": 0}
        out: dict = {"windows": len(self.rows)}
        for i, key in ((1, "input"), (2, "reconstruction")):
            errors = [row[i + 2] for row in self.rows]
            out[key] = {
                "command_agreement": float(np.mean([row[0] == row[i] for row in self.rows])),
                "ade": float(np.mean([e["ade"] for e in errors])),
                "fde": float(np.mean([e["fde"] for e in errors])),
            }
        out["read_as"] = {
            true: {
                "input": dict(Counter(row[1] for row in self.rows if row[0] == true)),
                "reconstruction": dict(Counter(row[2] for row in self.rows if row[0] == true)),
            }
            for true in sorted({row[0] for row in self.rows})
        }
        return out
