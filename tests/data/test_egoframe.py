"""Windows between ego and world coordinates: a still world stays still, the ego's motion comes back."""

from __future__ import annotations

import numpy as np
import pytest

from dynamiccity.data.classes import FREE
from dynamiccity.data.egoframe import (
    anchored,
    beyond,
    chained_poses,
    path_in,
    path_poses,
    pose_after,
    to_ego,
    to_world,
    with_heading,
    world_anchor,
)

EXTENT = (-8.0, -8.0, -1.0, 8.0, 8.0, 1.0)  # 16 x 16 x 2 voxels of 1 m


def drive(world: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """An ego driving +x one voxel per frame through `world` (X + steps, Y, Z): its window of 16 x 16
    voxels per frame, and its path."""
    window = np.stack([world[t : t + 16] for t in range(steps)])
    path = np.stack([np.arange(steps, dtype=float), np.zeros(steps), np.zeros(steps)], axis=1)
    return window, path.astype(np.float32)


def test_a_driving_window_in_world_coordinates_stands_still_and_comes_back():
    rng = np.random.default_rng(0)
    world = rng.integers(1, 12, size=(16 + 5, 16, 2)).astype(np.uint8)
    window, path = drive(world, 6)
    still = to_world(window, path, EXTENT)
    assert all(np.array_equal(still[t], window[0]) for t in range(6))  # frame 0 saw all that stays in view
    back, unseen = to_ego(still, path, EXTENT)
    assert np.array_equal(back[~unseen], window[~unseen])
    for t in range(6):  # the t voxels ahead that frame 0 never saw are unseen and free
        assert unseen[t, 16 - t :].all() and not unseen[t, : 16 - t].any()
        assert (back[t, 16 - t :] == FREE).all()


def test_a_voxel_the_ego_leaves_keeps_what_was_last_seen_there():
    window = np.zeros((3, 16, 16, 2), np.uint8)
    window[2, 5, 3, 0] = 7  # a car the ego sees in frame 2 only, 5 voxels ahead of it
    path = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], np.float32)
    still = to_world(window, path, EXTENT)
    assert still[2, 7, 3, 0] == 7 and still[1, 7, 3, 0] == FREE  # where the car is, in frame 0's coordinates


def test_the_window_before_is_seen_from_where_the_next_one_starts():
    rng = np.random.default_rng(2)
    world = rng.integers(1, 12, size=(16 + 8, 16, 2)).astype(np.uint8)
    window, path = drive(world, 8)  # frames 0..3 the window before, 4..7 the next one
    poses = path_poses(path)  # ego-to-world, the world being frame 0's ego frame
    before = path_in(poses[:4], poses[4])
    assert np.allclose(before[:, 0], [-4, -3, -2, -1]) and np.allclose(before[:, 1:], 0)
    seen = to_world(window[:4], before, EXTENT)
    assert np.array_equal(seen[3][:15], window[4][:15])  # all the last frame saw, where frame 4 sees it
    assert (seen[:, 15:] == FREE).all()  # 1 voxel ahead that no frame before saw
    assert np.array_equal(seen[0][:12], window[4][:12]) and (seen[0][12:] == FREE).all()
    assert np.allclose(pose_after(path[:4]), poses[4])  # at the last step's speed
    grown = chained_poses(np.stack([path[:4], path[:4] - path[0]]))  # two windows of the same drive
    assert np.allclose(grown, poses[:8])


def test_a_window_seen_from_its_middle_frame_looks_half_as_far_beyond_it():
    rng = np.random.default_rng(3)
    world = rng.integers(1, 12, size=(16 + 7, 16, 2)).astype(np.uint8)
    window, path = drive(world, 8)
    assert (world_anchor("world", 8), world_anchor("centred", 8)) == (0, 4)
    middle = anchored(path, 4)  # the path in frame 4's ego frame: from 4 voxels behind to 3 ahead
    assert np.allclose(middle[:, 0], np.arange(8) - 4) and np.allclose(middle[:, 1:], 0)
    assert anchored(path, 0) is path
    still = to_world(window, middle, EXTENT, fill_back=True)
    assert all(np.array_equal(still[t], window[4]) for t in range(8))  # the world of frame 4, throughout
    back, unseen = to_ego(still, middle, EXTENT)
    _, first_unseen = to_ego(to_world(window, path, EXTENT), path, EXTENT)
    assert unseen.max(axis=(1, 2, 3)).tolist() == [True] * 4 + [False] + [True] * 3  # behind, then ahead
    assert unseen.sum() < 0.6 * first_unseen.sum()  # 4 + 3 strips of up to 4 voxels against one of up to 7
    assert np.array_equal(back[~unseen], window[~unseen])


def test_filling_back_shows_a_place_as_the_ego_saw_it_later():
    window = np.zeros((3, 16, 16, 2), np.uint8)
    window[:, 15, 3, 0] = 5  # a wall at the front edge of every frame: 2 voxels beyond frame 0's view
    path = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], np.float32)
    held = to_world(window, anchored(path, 2), EXTENT)  # seen from frame 2, frames 0-1 never saw it
    filled = to_world(window, anchored(path, 2), EXTENT, fill_back=True)
    assert held[0, 15, 3, 0] == FREE and held[2, 15, 3, 0] == 5
    assert (filled[:, 15, 3, 0] == 5).all()  # where it stands, from before the ego saw it
    assert filled[0, 13, 3, 0] == 5 and held[0, 13, 3, 0] == 5  # frame 0 saw its own front edge


def test_a_turning_window_round_trips_on_what_stays_in_view():
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 12, size=(4, 4, 2)).astype(np.uint8)  # a scene of 4 x 4 m blocks
    window = np.repeat(np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)[None], 4, axis=0)
    path = np.array([[0, 0, 0], [1, 0.2, 0.1], [2, 0.6, 0.2], [3, 1.2, 0.3]], np.float32)
    back, unseen = to_ego(to_world(window, path, EXTENT), path, EXTENT)
    assert (back[~unseen] == window[~unseen]).mean() > 0.97  # nearest-neighbour twice under rotation
    assert 0 < unseen[3].mean() < 0.3 and not unseen[0].any()


def test_a_path_without_yaw_heads_where_it_drives():
    straight = with_heading(np.stack([np.arange(5.0), np.zeros(5)], axis=1))
    assert straight.shape == (5, 3) and np.allclose(straight[:, 2], 0)
    arc = np.stack([np.sin(np.linspace(0, 1, 6)), 1 - np.cos(np.linspace(0, 1, 6))], axis=1) * 10
    yaw = with_heading(arc)[:, 2]
    assert np.all(np.diff(yaw) > 0) and yaw[0] == 0  # turning left, relative to the first heading
    standing = with_heading(np.zeros((4, 2)))
    assert np.allclose(standing[:, 2], 0)
    assert np.allclose(path_poses(straight)[3, :3, 3], [3, 0, 0])


@pytest.mark.parametrize(
    ("path", "message"),
    [(np.full((4, 3), np.nan), "holds NaN"), (np.zeros((3, 3)), r"a path of shape \(3, 3\)")],
)
def test_a_bad_path_is_a_one_line_error(path, message):
    with pytest.raises(ValueError, match=message):
        to_world(np.zeros((4, 16, 16, 2), np.uint8), path, EXTENT)


def test_a_world_wider_than_the_view_shows_what_lies_ahead():
    rng = np.random.default_rng(1)
    world = rng.integers(1, 12, size=(16 + 5, 16, 2)).astype(np.uint8)
    window, path = drive(world, 6)
    assert beyond((16, 16, 2), path, EXTENT) == {"+x": 5, "-x": 0, "+y": 0, "-y": 0}
    assert beyond((16, 16, 2), np.zeros((6, 3), np.float32), EXTENT) == {"+x": 0, "-x": 0, "+y": 0, "-y": 0}
    wide = np.repeat(world[None], 6, axis=0)  # the world window with the 5 voxels ahead laid beside it
    wide_extent = (-8.0, -8.0, -1.0, 13.0, 8.0, 1.0)
    back, unseen = to_ego(wide, path, wide_extent, ((16, 16, 2), EXTENT))
    assert back.shape == window.shape and not unseen.any()
    assert np.array_equal(back, window)
    turning = with_heading(np.stack([np.arange(6.0), 0.2 * np.arange(6.0) ** 2], axis=1))
    sides = beyond((16, 16, 2), turning, EXTENT)
    assert min(sides["+x"], sides["+y"]) > 2 * max(sides["-x"], sides["-y"])  # ahead and to the left most


def test_a_world_grid_wider_than_the_view_keeps_what_every_frame_saw():
    from dynamiccity.data.scene import GridSpec

    rng = np.random.default_rng(4)
    world = rng.integers(1, 12, size=(16 + 7, 16, 2)).astype(np.uint8)
    window, path = drive(world, 8)
    middle = anchored(path, 4)  # frames 0-3 look up to 4 voxels behind frame 4's view, 5-7 up to 3 ahead
    wide = GridSpec((16, 16, 2), EXTENT, hz=1.0).widened(4)
    assert wide.shape == (24, 24, 2) and wide.extent == (-12.0, -12.0, -1.0, 12.0, 12.0, 1.0)
    assert wide.voxel_size == (1.0, 1.0, 1.0)
    still = to_world(window, middle, EXTENT, fill_back=True, world=(wide.shape, wide.extent))
    assert still.shape == (8, 24, 24, 2)
    assert all(np.array_equal(still[t, :23, 4:20], world) for t in range(8))  # the whole drive, throughout
    seen = to_world(
        np.ones_like(window, bool), middle, EXTENT, fill_back=True, world=(wide.shape, wide.extent)
    )
    assert not seen[:, :, :4].any() and not seen[:, 23].any()  # beside the road and past the drive: unseen
    back, unseen = to_ego(still, middle, wide.extent, ((16, 16, 2), EXTENT))
    assert not unseen.any() and np.array_equal(back, window)  # nothing the ego saw is lost on the way back
    _, narrow = to_ego(to_world(window, middle, EXTENT, fill_back=True), middle, EXTENT)
    assert narrow.any()  # on the view's own grid, the strips behind and ahead are
