"""Data without ego poses, as Occ3D-Waymo is published: readers say so, inspect reports it, windows carry
no command and NaN trajectories, and only what needs poses refuses."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from dynamiccity.data import (
    NO_COMMAND,
    DataError,
    GridSpec,
    Scene,
    open_dataset,
    open_reader,
    write_synthtown,
)
from dynamiccity.data.inspect import inspect_dataset
from tests.conftest import write_waymo

WHY = "the command and trajectory conditions"


def published_waymo(root, frames=3):
    """An Occ3D-Waymo root as published: frame files without ego2global, no poses.txt."""
    write_waymo(root, frames=frames, ego2global=False)
    return root


def test_the_reader_reports_no_poses(tmp_path):
    reader = open_reader(published_waymo(tmp_path), "occ3d-waymo")
    (scene,) = reader.scenes()
    assert reader.read_poses(scene) is None and reader.pose_source(scene) is None
    assert reader.read_scene(scene).poses is None
    assert inspect_dataset(reader).poses == "none"


def test_pose_sources(tmp_path):
    root = published_waymo(tmp_path / "data", frames=2)
    line = "1 0 0 {} 0 1 0 0 0 0 1 0"
    poses_dir = tmp_path / "poses"
    (poses_dir / "training" / "000").mkdir(parents=True)
    (poses_dir / "training" / "000" / "poses.txt").write_text(line.format(0) + "\n" + line.format(3) + "\n")
    reader = open_reader(root, "occ3d-waymo", poses=poses_dir)
    assert inspect_dataset(reader).poses == f"poses.txt files under {poses_dir}"
    assert reader.read_poses(reader.scenes()[0])[1, 0, 3] == 3.0

    (root / "training" / "000" / "poses.txt").write_text(line.format(0) + "\n" + line.format(5) + "\n")
    reader = open_reader(root, "occ3d-waymo")
    assert inspect_dataset(reader).poses == "poses.txt in the scene folders"
    assert reader.read_poses(reader.scenes()[0])[1, 0, 3] == 5.0

    with_ego2global = tmp_path / "ego2global"
    write_waymo(with_ego2global, frames=2)
    assert (
        inspect_dataset(open_reader(with_ego2global, "occ3d-waymo")).poses == "ego2global in the frame files"
    )


def test_a_poses_folder_must_hold_every_scene(tmp_path):
    root = published_waymo(tmp_path / "data")
    (tmp_path / "poses").mkdir()
    reader = open_reader(root, "occ3d-waymo", poses=tmp_path / "poses")
    missing = tmp_path / "poses" / "training" / "000" / "poses.txt"
    with pytest.raises(DataError, match=f"^{missing}: poses file does not exist"):
        reader.read_poses(reader.scenes()[0])


def test_ego2global_in_only_some_frames_is_an_error(tmp_path):
    """Whether or not the first frame carries one, a scene with ego2global in some frames only is refused."""
    write_waymo(tmp_path, frames=3)
    path = tmp_path / "training" / "000" / "000_04.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files if k != "ego2global"}
    np.savez_compressed(path, **arrays)
    reader = open_reader(tmp_path, "occ3d-waymo")
    with pytest.raises(
        DataError, match=f"^{path}: no 'ego2global', though other frames of its scene have one"
    ):
        reader.read_poses(reader.scenes()[0])


def test_inspect_counts_scenes_without_poses(tmp_path):
    root = published_waymo(tmp_path, frames=2)
    shutil.copytree(root / "training" / "000", root / "training" / "001")
    (root / "training" / "001" / "poses.txt").write_text("1 0 0 0 0 1 0 0 0 0 1 0\n" * 2)
    stats = inspect_dataset(open_reader(root, "occ3d-waymo"))
    assert stats.poses == "poses.txt in the scene folders; none for 1 of 2 scenes"
    assert stats.to_json()["poses"] == stats.poses


def test_windows_without_poses(tmp_path):
    data = open_dataset(published_waymo(tmp_path), "occ3d-waymo", frames=2, mask="none")
    assert len(data) == 2 and not data.has_poses
    window = data[1]
    assert window.command == NO_COMMAND == -1
    assert window.trajectory.shape == (2, 3) and window.trajectory.dtype == np.float32
    assert window.poses.shape == (2, 4, 4) and window.poses.dtype == np.float64
    assert np.isnan(window.trajectory).all() and np.isnan(window.poses).all()
    assert window.layout.shape == (2, 100, 100)
    batch = default_collate([data[0], data[1]])
    assert batch.command.tolist() == [NO_COMMAND, NO_COMMAND]
    assert batch.trajectory.shape == (2, 2, 3) and torch.isnan(batch.trajectory).all()


def test_only_what_needs_poses_refuses(tmp_path):
    data = open_dataset(published_waymo(tmp_path / "published"), "occ3d-waymo", frames=2, mask="none")
    expected = (
        f"^{tmp_path / 'published'}: scene training/000 has no ego poses, which {WHY} need; "
        r"pass --poses DIR, a folder of <split>/<scene>/poses\.txt files"
    )
    with pytest.raises(DataError, match=expected) as err:
        data.require_poses(WHY)
    assert "\n" not in str(err.value)

    write_waymo(tmp_path / "posed", frames=3)
    posed = open_dataset(tmp_path / "posed", "occ3d-waymo", frames=2, mask="none")
    assert posed.has_poses
    posed.require_poses(WHY)
    assert posed[0].command != NO_COMMAND and not np.isnan(posed[0].trajectory).any()


def test_encode_writes_the_conditions_as_they_come(tmp_path):
    from dynamiccity.runs.encode import _conditions

    data = open_dataset(published_waymo(tmp_path), "occ3d-waymo", frames=2, mask="none")
    conditions = _conditions([data[0], data[1]])
    assert conditions["command"].tolist() == [NO_COMMAND, NO_COMMAND]
    assert conditions["trajectory"].shape == (2, 2, 3) and torch.isnan(conditions["trajectory"]).all()
    assert conditions["start"].tolist() == [0, 1]


GRID = GridSpec((8, 8, 2), (-4.0, -4.0, -1.0, 4.0, 4.0, 1.0), hz=10.0)


def test_a_scene_without_poses_is_written_and_read_back_without_poses(tmp_path):
    """What `reconstruct` writes from windows of such data: Scene takes their NaN poses as none."""
    labels = np.ones((2, *GRID.shape), np.uint8)
    scene = Scene(labels, np.full((2, 4, 4), np.nan), name="recon")
    assert scene.poses is None
    write_synthtown(tmp_path, [(scene, "recon")], GRID)
    assert not (tmp_path / "recon" / "poses.npy").exists()
    assert json.loads((tmp_path / "dataset.json").read_text())["scenes"][0]["poses"] is False
    reader = open_reader(tmp_path, "synthtown")
    assert reader.read_poses(reader.scenes()[0]) is None
    assert inspect_dataset(reader).poses == "none"


def test_a_scene_with_some_nan_poses_is_refused():
    poses = np.stack([np.eye(4)] * 2)
    poses[1, 0, 3] = np.nan
    with pytest.raises(DataError, match="pose of frame 1 holds NaN"):
        Scene(np.zeros((2, *GRID.shape), np.uint8), poses)
