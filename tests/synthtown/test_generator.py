"""SynthTown generator: shapes, determinism, reachable layouts/commands, pose/command agreement, coherence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dynamiccity.data.classes import (
    BICYCLE,
    BUILDING,
    NUM_CLASSES,
    PEDESTRIAN,
    ROAD,
    SIDEWALK,
    VEGETATION,
    VEHICLE,
)
from dynamiccity.data.derive import ego_command
from dynamiccity.data.scene import CARLASC_GRID, GridSpec, Scene
from dynamiccity.synthtown import COMMANDS, LAYOUTS, SynthConfig, generate_scene
from dynamiccity.synthtown.config import COMPATIBLE

TINY = GridSpec((32, 32, 4), (-25.6, -25.6, -2.0, 25.6, 25.6, 1.0), hz=10.0)
SMALL = GridSpec((64, 64, 8), (-25.6, -25.6, -2.0, 25.6, 25.6, 1.0), hz=10.0)
DYNAMIC = (VEHICLE, PEDESTRIAN, BICYCLE)


def forced(layout: str, command: str, **kwargs) -> SynthConfig:
    """A config that always draws `layout` and `command`."""
    layouts = tuple(float(name == layout) for name in LAYOUTS)
    commands = tuple(float(name == command) for name in COMMANDS)
    return SynthConfig(layout_weights=layouts, command_weights=commands, **kwargs)


@pytest.mark.parametrize(
    "grid",
    [TINY, GridSpec((16, 24, 4), (-6.4, -9.6, -2.0, 6.4, 9.6, 1.0), hz=10.0), SMALL],
    ids=["32x32x4", "16x24x4-small-extent", "64x64x8"],
)
def test_shapes_dtypes_and_meta(grid):
    scene = generate_scene(3, frames=5, grid=grid)
    assert isinstance(scene, Scene)
    assert scene.labels.shape == (5, *grid.shape) and scene.labels.dtype == np.uint8
    assert int(scene.labels.max()) < NUM_CLASSES
    assert scene.poses.shape == (5, 4, 4) and scene.poses.dtype == np.float64
    assert scene.valid is None and scene.name == "synthtown_000003"
    meta = json.loads(json.dumps(scene.meta))  # plain JSON values only
    assert meta["layout"] in LAYOUTS and meta["ego_command"] in COMMANDS
    assert meta["density"] in ("low", "medium", "high") and 0.0 <= meta["density_value"] <= 1.0
    assert meta["seed"] == 3 and meta["ego_speed_mps"] >= 0.0
    assert min(meta["num_vehicles"], meta["num_pedestrians"], meta["num_bicycles"]) >= 0


def test_deterministic_per_seed():
    a, b = generate_scene(11, frames=6, grid=TINY), generate_scene(11, frames=6, grid=TINY)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.poses, b.poses)
    assert a.meta == b.meta
    c = generate_scene(12, frames=6, grid=TINY)
    assert not np.array_equal(a.labels, c.labels)


def test_poses_are_rigid_planar_and_at_ego_height():
    scene = generate_scene(5, frames=8, grid=TINY)
    rot = scene.poses[:, :3, :3]
    np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rot.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-9)
    np.testing.assert_array_equal(scene.poses[:, 3], np.broadcast_to([0.0, 0.0, 0.0, 1.0], (8, 4)))
    np.testing.assert_allclose(scene.poses[:, 2, :3], np.broadcast_to([0.0, 0.0, 1.0], (8, 3)), atol=1e-12)
    np.testing.assert_allclose(scene.poses[:, 2, 3], 1.7)  # ground 0.1 of the z extent above the grid floor


@pytest.mark.parametrize(
    ("layout", "command"), [(layout, c) for layout in LAYOUTS for c in COMPATIBLE[layout]]
)
def test_every_layout_and_command_is_reachable(layout, command):
    scene = generate_scene(7, frames=8, grid=TINY, config=forced(layout, command))
    assert scene.meta["layout"] == layout
    assert scene.meta["ego_command"] == command
    assert ego_command(scene.poses).name.lower() == command


def test_command_from_poses_agrees_with_meta():
    for seed in range(40):
        scene = generate_scene(seed, frames=16, grid=TINY)
        assert ego_command(scene.poses).name.lower() == scene.meta["ego_command"], scene.meta


def test_static_ego_sees_an_unchanging_static_world():
    scene = generate_scene(2, frames=10, grid=SMALL, config=forced("crossroads", "static"))
    np.testing.assert_array_equal(scene.poses, np.broadcast_to(scene.poses[0], scene.poses.shape))
    assert scene.meta["ego_speed_mps"] == 0.0
    first = scene.labels[0]
    for frame in scene.labels[1:]:
        still = ~np.isin(first, DYNAMIC) & ~np.isin(frame, DYNAMIC)
        np.testing.assert_array_equal(frame[still], first[still])


def test_forward_ego_sees_the_static_world_shift_backwards():
    scene = generate_scene(4, frames=16, grid=SMALL, config=forced("straight", "forward"))
    rel = np.linalg.inv(scene.poses[0]) @ scene.poses[-1]
    assert rel[0, 3] > 3.0 and abs(rel[1, 3]) < 1e-6  # drove straight ahead
    shift = round(rel[0, 3] / SMALL.voxel_size[0])
    static = np.isin(scene.labels, (ROAD, SIDEWALK, BUILDING))  # (T, X, Y, Z)
    first, last = static[0, shift:], static[-1, :-shift]  # what was `shift` voxels ahead is now here
    moved = (first == last).mean()
    unmoved = (static[0] == static[-1]).mean()
    assert moved > 0.95 and moved > unmoved


def test_carlasc_scene_holds_the_main_classes():
    scene = generate_scene(0, frames=4, grid=CARLASC_GRID)
    present = set(np.unique(scene.labels).tolist())
    assert {ROAD, SIDEWALK, BUILDING, VEHICLE, VEGETATION} <= present
    assert scene.meta["num_vehicles"] > 0


def test_the_ego_footprint_stays_free():
    """The ego is never drawn, and no other actor ever drives into its place."""
    for seed in range(12):
        scene = generate_scene(seed, frames=10, grid=SMALL)
        cx, cy = SMALL.shape[0] // 2, SMALL.shape[1] // 2
        footprint = scene.labels[:, cx - 2 : cx + 2, cy - 1 : cy + 1, 1:]  # 3.2 x 1.6 m above the road layer
        assert not np.isin(footprint, DYNAMIC).any(), (seed, scene.meta)


def test_single_frame_scene_is_static():
    scene = generate_scene(9, frames=1, grid=TINY)
    assert scene.labels.shape == (1, *TINY.shape) and scene.meta["ego_command"] == "static"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"layout_weights": (1.0, 0.0, 0.0)},
        {"command_weights": (-1.0, 1.0, 1.0, 1.0)},
        {"layout_weights": (1.0, 0.0, 0.0, 0.0), "command_weights": (0.0, 0.0, 1.0, 1.0)},
        {"speed_range": (5.0, 2.0)},
        {"building_interior": "glass"},
    ],
)
def test_bad_config_is_rejected(kwargs):
    with pytest.raises(ValueError):
        SynthConfig(**kwargs)


def test_solid_buildings_fill_more_voxels_than_hollow_ones():
    hollow = generate_scene(1, frames=2, grid=SMALL, config=SynthConfig(building_interior="hollow"))
    solid = generate_scene(1, frames=2, grid=SMALL, config=SynthConfig(building_interior="solid"))
    assert (solid.labels == BUILDING).sum() > (hollow.labels == BUILDING).sum()
