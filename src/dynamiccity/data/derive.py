"""Conditions derived from a window of frames: ego command, trajectory and BEV layout (DESIGN.md, Data)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from dynamiccity.data.classes import VEHICLE
from dynamiccity.data.egoframe import path_in


class Command(IntEnum):
    """Ego command classes; the integer is the embedding index used by the DiT."""

    STATIC = 0
    FORWARD = 1
    LEFT = 2
    RIGHT = 3


NO_COMMAND = -1
"""The command of a window whose scene has no ego poses. Not a `Command`, so that the DiT's embedding of
commands keeps one row per real command; conditioning on it has to be refused, not embedded."""


@dataclass(frozen=True)
class CommandRule:
    """Thresholds of the release's command rule; tiny by default, so keep them configurable.

    LEFT if any frame-to-frame yaw change > `yaw_rad`, RIGHT if any < -`yaw_rad` (LEFT wins when both
    occur), else FORWARD if any planar step > `step_m`, else STATIC.
    """

    yaw_rad: float = 0.0025
    step_m: float = 0.03


def yaw_of(poses: np.ndarray) -> np.ndarray:
    """Heading angle in radians of each pose: (T, 4, 4) -> (T,)."""
    return np.arctan2(poses[:, 1, 0], poses[:, 0, 0])


def ego_command(poses: np.ndarray, rule: CommandRule = CommandRule()) -> Command:
    """The ego command of a window from its (T, 4, 4) ego-to-world poses."""
    dyaw = np.angle(np.exp(1j * np.diff(yaw_of(poses))))  # wrapped to (-pi, pi]
    if (dyaw > rule.yaw_rad).any():
        return Command.LEFT
    if (dyaw < -rule.yaw_rad).any():
        return Command.RIGHT
    steps = np.linalg.norm(np.diff(poses[:, :2, 3], axis=0), axis=1)
    return Command.FORWARD if (steps > rule.step_m).any() else Command.STATIC


def ego_trajectory(poses: np.ndarray) -> np.ndarray:
    """Trajectory (T, 3) float32 = (x, y, yaw) of each frame in the first frame's ego frame.

    x is forward and y left of the first frame's ego; yaw is relative to its heading, wrapped to (-pi, pi].
    (The release subtracts world positions without rotating; we express them in the ego frame.)
    """
    return path_in(poses, poses[0])


def bev_layout(labels: np.ndarray, factor: int, cls: int = VEHICLE) -> np.ndarray:
    """Per-frame BEV mask of one class, max-pooled by `factor`.

    Args:
        labels: (T, X, Y, Z) uint8 common class ids; X and Y divisible by `factor`.
        factor: pooling factor d >= 1.
    Returns:
        (T, X // d, Y // d) bool.
    """
    t, x, y, _ = labels.shape
    if x % factor or y % factor:
        raise ValueError(f"layout factor {factor} does not divide the grid {x}x{y}.")
    mask = (labels == cls).any(axis=3)
    return mask.reshape(t, x // factor, factor, y // factor, factor).any(axis=(2, 4))
