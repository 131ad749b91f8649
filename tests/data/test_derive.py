"""Ego command, trajectory and BEV layout derived from windows."""

from __future__ import annotations

import numpy as np
import pytest

from dynamiccity.data import Command, CommandRule, bev_layout, ego_command, ego_trajectory
from dynamiccity.data.classes import VEHICLE
from tests.conftest import yaw_pose


def path(xs, ys, yaws) -> np.ndarray:
    return np.stack([yaw_pose(x, y, a) for x, y, a in zip(xs, ys, yaws, strict=True)])


@pytest.mark.parametrize(
    ("poses", "command"),
    [
        (path([1.0] * 4, [2.0] * 4, [0.3] * 4), Command.STATIC),
        (path([0.0, 0.5, 1.0, 1.5], [0.0] * 4, [0.0] * 4), Command.FORWARD),
        (path([0.0, 0.5, 1.0, 1.5], [0.0] * 4, [0.0, 0.01, 0.02, 0.03]), Command.LEFT),
        (path([0.0, 0.5, 1.0, 1.5], [0.0] * 4, [0.0, -0.01, -0.02, -0.03]), Command.RIGHT),
        # a left turn across the +-pi seam is still a left turn
        (path([0.0, 0.5, 1.0], [0.0] * 3, [np.pi - 0.01, -np.pi + 0.01, -np.pi + 0.03]), Command.LEFT),
    ],
)
def test_command_rule(poses, command):
    assert ego_command(poses) == command


def test_command_thresholds_are_configurable():
    jitter = path([0.0, 0.01, 0.02], [0.0] * 3, [0.0, 0.004, 0.0])
    assert ego_command(jitter) == Command.LEFT
    assert ego_command(jitter, CommandRule(yaw_rad=0.01, step_m=0.03)) == Command.STATIC


def test_trajectory_in_first_ego_frame():
    # heading +90 deg in the world: world +y is the ego's forward (+x)
    poses = path([5.0, 5.0, 5.0], [1.0, 2.0, 3.0], [np.pi / 2] * 3)
    traj = ego_trajectory(poses)
    assert traj.shape == (3, 3) and traj.dtype == np.float32
    np.testing.assert_allclose(traj, [[0, 0, 0], [1, 0, 0], [2, 0, 0]], atol=1e-6)


def test_layout_max_pools_vehicles():
    labels = np.zeros((2, 8, 8, 3), np.uint8)
    labels[0, 5, 2, 1] = VEHICLE
    labels[1, 0, 7, 0] = 6
    layout = bev_layout(labels, 4)
    assert layout.shape == (2, 2, 2) and layout.dtype == bool
    assert layout[0].tolist() == [[False, False], [True, False]] and not layout[1].any()
    with pytest.raises(ValueError, match="does not divide"):
        bev_layout(labels, 3)
