"""Ego motion from occupancy: known rigid motions of a rendered world, SynthTown drives, layout IoU."""

from __future__ import annotations

import numpy as np
import pytest

from dynamiccity.data import Command, bev_layout, ego_command, ego_trajectory
from dynamiccity.data.classes import BUILDING, GROUND, POLE, ROAD, SIDEWALK, VEGETATION, VEHICLE
from dynamiccity.metrics.egomotion import ego_on_road, estimate_command, trajectory_errors, window_command
from dynamiccity.metrics.layout import layout_iou
from dynamiccity.metrics.registration import estimate_trajectory, static_bev
from tests.conftest import yaw_pose

VOXEL = 0.8
GRID = (48, 48, 4)


def world_map(seed: int, cells: int = 600, cell: float = 0.2) -> np.ndarray:
    """A (cells, cells) uint8 class map of a town square, `cell` metres a cell centred on the origin: 4 m
    surface blocks, 2-8 m buildings and single poles."""
    rng = np.random.default_rng(seed)
    blocks = rng.choice([ROAD, SIDEWALK, GROUND, VEGETATION], size=(cells // 20, cells // 20))
    world = np.repeat(np.repeat(blocks, 20, 0), 20, 1).astype(np.uint8)
    for _ in range(40):
        i, j = rng.integers(0, cells - 40, 2)
        h, w = rng.integers(10, 40, 2)
        world[i : i + h, j : j + w] = BUILDING
    for i, j in rng.integers(0, cells - 3, (60, 2)):
        world[i : i + 3, j : j + 3] = POLE
    return world


def render(world: np.ndarray, poses: np.ndarray, cell: float = 0.2) -> np.ndarray:
    """Labels (T, X, Y, Z) of the ego-centred `GRID` at (T, 4, 4) poses: surface classes on the bottom
    layer, buildings and poles as full columns, a parked vehicle that moves with the ego on top."""
    nx, ny, nz = GRID
    px = (np.arange(nx) + 0.5 - nx / 2) * VOXEL
    py = (np.arange(ny) + 0.5 - ny / 2) * VOXEL
    ego = np.stack(np.meshgrid(px, py, indexing="ij"), axis=-1)  # (X, Y, 2)
    world_xy = np.einsum("tab,xyb->txya", poses[:, :2, :2], ego) + poses[:, None, None, :2, 3]
    idx = np.clip(np.floor(world_xy / cell + len(world) / 2).astype(int), 0, len(world) - 1)
    cls = world[idx[..., 0], idx[..., 1]]  # (T, X, Y)
    labels = np.zeros((len(poses), nx, ny, nz), np.uint8)
    labels[..., 0] = cls
    tall = (cls == BUILDING) | (cls == POLE)
    labels[tall] = cls[tall][:, None]
    labels[:, 30:33, 20:22, 1] = VEHICLE  # moves with the ego: must be ignored
    return labels


def drive(step: tuple[float, float], yaw_deg: float, frames: int = 6) -> np.ndarray:
    """(T, 4, 4) poses of an ego making the same rigid step (metres, in its own frame) and turn each frame."""
    x, y, yaw, poses = 3.0, -2.0, 0.4, []
    for _ in range(frames):
        poses.append(yaw_pose(x, y, yaw))
        x += np.cos(yaw) * step[0] - np.sin(yaw) * step[1]
        y += np.sin(yaw) * step[0] + np.cos(yaw) * step[1]
        yaw += np.deg2rad(yaw_deg)
    return np.stack(poses)


@pytest.mark.parametrize(
    ("step", "yaw_deg"),
    [((0.0, 0.0), 0.0), ((0.8, 0.0), 0.0), ((0.55, 0.25), 3.0), ((1.1, -0.1), -6.0), ((0.3, 0.1), 12.0)],
)
def test_recovers_known_rigid_motion(step, yaw_deg):
    poses = drive(step, yaw_deg)
    truth = ego_trajectory(poses)
    est = estimate_trajectory(render(world_map(seed=1), poses), (VOXEL, VOXEL))
    assert est.shape == truth.shape and est.dtype == np.float32
    assert np.array_equal(est[0], np.zeros(3))
    assert np.linalg.norm(est[:, :2] - truth[:, :2], axis=1).max() < VOXEL
    assert np.rad2deg(np.abs(np.angle(np.exp(1j * (est[:, 2] - truth[:, 2]))))).max() < 1.0


def test_static_scene_is_exactly_still():
    labels = np.repeat(render(world_map(seed=2), drive((0.0, 0.0), 0.0, frames=1)), 5, axis=0)
    assert np.abs(estimate_trajectory(labels, (VOXEL, VOXEL))).max() < 1e-3
    assert estimate_command(labels, (VOXEL, VOXEL)) == Command.STATIC


def test_a_scene_without_static_voxels_reads_as_still():
    labels = np.zeros((4, 16, 16, 2), np.uint8)
    labels[:, 4:8, 4:8, 1] = VEHICLE
    with np.errstate(all="raise"):
        assert np.array_equal(estimate_trajectory(labels, (VOXEL, VOXEL)), np.zeros((4, 3), np.float32))


def test_static_bev_takes_the_top_static_class():
    labels = np.zeros((1, 2, 2, 3), np.uint8)
    labels[0, 0, 0] = (ROAD, BUILDING, 0)
    labels[0, 0, 1] = (SIDEWALK, VEHICLE, VEHICLE)  # vehicles are not static
    labels[0, 1, 0, 2] = VEHICLE  # only a vehicle: no static class
    bev = static_bev(labels)
    assert bev[0, 0, 0] >= 0 and bev[0, 0, 1] >= 0 and bev[0, 1, 0] == -1 and bev[0, 1, 1] == -1
    assert bev[0, 0, 0] != bev[0, 0, 1]


@pytest.mark.parametrize("command", ["static", "forward", "left", "right"])
def test_synthtown_drives(command):
    from dynamiccity.data.scene import GridSpec
    from dynamiccity.synthtown import COMMANDS, SynthConfig, generate_scene

    weights = tuple(float(c == command) for c in COMMANDS)
    grid = GridSpec((32, 32, 4), (-12.8, -12.8, -2.0, 12.8, 12.8, 1.0), hz=10.0)
    scene = generate_scene(seed=11, frames=8, grid=grid, config=SynthConfig(command_weights=weights))
    truth = ego_trajectory(scene.poses)
    est = estimate_trajectory(scene.labels, grid.voxel_size[:2])
    assert ego_command(scene.poses) == window_command(truth) == Command[command.upper()]
    assert estimate_command(scene.labels, grid.voxel_size[:2]) == Command[command.upper()]
    assert trajectory_errors(est, truth)["fde"] < 1.0
    assert ego_on_road(scene.labels).all()  # the ego drives on road in every frame


def test_ego_on_road_reads_the_ground_under_the_grid_centre():
    labels = np.zeros((3, 8, 8, 4), np.uint8)
    labels[:, :, :, 0] = ROAD
    labels[1, 3:5, 3:5, 0] = SIDEWALK  # frame 1: the ego stands on the sidewalk
    labels[2, 3:5, 3:5, 1] = VEHICLE  # frame 2: something above the road does not hide it
    labels[2, 3, 3, 0] = GROUND  # one of the four columns off the road is still on road
    np.testing.assert_array_equal(ego_on_road(labels), [True, False, True])
    labels[0, 3:5, 3:5, 0] = 0  # nothing under the ego: not on road
    assert not ego_on_road(labels)[0]
    with pytest.raises(ValueError, match=r"\(T, X, Y, Z\)"):
        ego_on_road(labels[0])


@pytest.mark.parametrize(
    ("trajectory", "command"),
    [
        ([[0, 0, 0], [0.1, 0, 0], [0.2, 0, 0.02]], Command.STATIC),
        ([[0, 0, 0], [1.0, 0, 0.01], [2.0, 0.1, 0.05]], Command.FORWARD),
        ([[0, 0, 0], [1.0, 0.2, 0.2], [1.8, 0.8, 0.5]], Command.LEFT),
        ([[0, 0, 0], [1.0, -0.2, -0.2], [1.8, -0.8, -3.0]], Command.RIGHT),
    ],
)
def test_window_command_rule(trajectory, command):
    assert window_command(np.array(trajectory)) == command


def test_trajectory_errors_against_direct_computation():
    rng = np.random.default_rng(0)
    est, req = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    distance = np.sqrt(((est[:, :2] - req) ** 2).sum(axis=1))
    errors = trajectory_errors(est, req)
    assert errors["ade"] == pytest.approx(distance.mean()) and errors["fde"] == pytest.approx(distance[-1])
    assert trajectory_errors(req, req) == {"ade": 0.0, "fde": 0.0}


def test_layout_iou():
    rng = np.random.default_rng(0)
    labels = np.where(rng.random((3, 8, 8, 2)) < 0.1, VEHICLE, ROAD).astype(np.uint8)
    shown = bev_layout(labels, 2)
    assert layout_iou(labels, shown, 2) == 1.0
    assert layout_iou(labels, ~shown, 2) == 0.0
    requested = rng.random(shown.shape) < 0.5
    expected = (shown & requested).sum() / (shown | requested).sum()
    assert layout_iou(labels, requested, 2) == pytest.approx(expected)
    empty = np.full((3, 8, 8, 2), ROAD, np.uint8)
    assert layout_iou(empty, np.zeros((3, 4, 4), bool), 2) == 1.0
    with pytest.raises(ValueError, match=r"\(3, 4, 5\).*\(3, 4, 4\)"):
        layout_iou(labels, np.zeros((3, 4, 5), bool), 2)


def test_refuses_bad_input():
    labels = np.zeros((2, 8, 8, 2), np.uint8)
    with pytest.raises(ValueError, match="labels must be"):
        estimate_trajectory(labels[0], (0.8, 0.8))
    with pytest.raises(ValueError, match="labels must be"):
        estimate_trajectory(labels.astype(np.float32), (0.8, 0.8))
    with pytest.raises(ValueError, match=r"class ids 0..11, got values 0..12"):
        estimate_trajectory(labels + np.uint8(12) * (np.arange(8) == 3)[:, None, None], (0.8, 0.8))
    with pytest.raises(ValueError, match="at least 4 x 4 columns"):
        estimate_trajectory(labels[:, :3], (0.8, 0.8))
    for size in [(0.8, 0.0), (-1.0, 0.8), (0.8,), (0.8, float("nan"))]:
        with pytest.raises(ValueError, match="voxel_size must be"):
            estimate_trajectory(labels, size)
    with pytest.raises(ValueError, match="trajectories must"):
        trajectory_errors(np.zeros((8, 3)), np.zeros((7, 3)))
    with pytest.raises(ValueError, match="trajectories must"):
        trajectory_errors(np.zeros((8, 1)), np.zeros((8, 3)))
    with pytest.raises(ValueError, match="trajectory must be"):
        window_command(np.zeros((8, 2)))
