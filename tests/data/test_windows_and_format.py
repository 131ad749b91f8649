"""SynthTown on-disk format round trip and the windowed dataset over it."""

from __future__ import annotations

import numpy as np
import pytest

from dynamiccity.data import DataError, GridSpec, Scene, open_dataset, open_reader, write_synthtown
from dynamiccity.data.classes import VEHICLE
from tests.conftest import yaw_pose

GRID = GridSpec((8, 8, 2), (-4.0, -4.0, -1.0, 4.0, 4.0, 1.0), hz=10.0)


def make_scene(name: str, frames: int, seed: int, with_valid: bool = False) -> Scene:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 12, size=(frames, *GRID.shape), dtype=np.uint8)
    poses = np.stack([yaw_pose(0.5 * t, 0.0, 0.0) for t in range(frames)])
    valid = rng.random(labels.shape) < 0.5 if with_valid else None
    return Scene(labels, poses, valid, name=name, meta={"layout": "straight"})


def test_round_trip_and_extend(tmp_path):
    a, b = make_scene("a", 5, 0, with_valid=True), make_scene("b", 3, 1)
    write_synthtown(tmp_path, [(a, "train")], GRID)
    write_synthtown(tmp_path, [(b, "val")], GRID)
    reader = open_reader(tmp_path, "synthtown")
    assert [(s.name, s.split, s.num_frames, s.meta) for s in reader.scenes()] == [
        ("a", "train", 5, {"layout": "straight"}),
        ("b", "val", 3, {"layout": "straight"}),
    ]
    scene = reader.read_scene(reader.scenes()[0])
    np.testing.assert_array_equal(scene.labels, a.labels)
    np.testing.assert_array_equal(scene.valid, a.valid)
    np.testing.assert_array_equal(scene.poses, a.poses)
    assert reader.read_frames(reader.scenes()[1], 0, 3)[1] is None
    assert not list(tmp_path.glob(".*tmp*"))


def test_scene_rejects_bad_arrays():
    with pytest.raises(DataError, match="class id 12 is outside"):
        Scene(np.full((1, 2, 2, 2), 12, np.uint8), np.eye(4)[None])
    with pytest.raises(DataError, match="2 poses for 1 frames"):
        Scene(np.zeros((1, 2, 2, 2), np.uint8), np.stack([np.eye(4)] * 2))


def test_corrupt_labels_file(tmp_path):
    write_synthtown(tmp_path, [(make_scene("a", 2, 0), "train")], GRID)
    (tmp_path / "a" / "labels.npy").write_bytes(b"garbage")
    reader = open_reader(tmp_path, "synthtown")
    with pytest.raises(DataError, match=r"labels\.npy: not a readable \.npy file"):
        reader.read_frames(reader.scenes()[0], 0, 1)


def test_missing_manifest(tmp_path):
    with pytest.raises(DataError, match="no SynthTown manifest"):
        open_reader(tmp_path, "synthtown")


def test_windows(tmp_path):
    scene = make_scene("a", 10, 0)
    scene.labels[:, 0, 0, 0] = VEHICLE
    write_synthtown(tmp_path, [(scene, "train"), (make_scene("b", 3, 1), "val")], GRID)
    data = open_dataset(tmp_path, "synthtown", frames=4, stride=2, layout_factor=2)
    assert len(data) == 4  # starts 0, 2, 4, 6 of "a"; "b" is shorter than a window
    window = data[1]
    assert window.labels.shape == (4, 8, 8, 2) and window.valid.all()
    np.testing.assert_array_equal(window.labels, scene.labels[2:6])
    np.testing.assert_allclose(window.trajectory[:, 0], [0.0, 0.5, 1.0, 1.5])
    assert window.command == 1 and window.layout.shape == (4, 4, 4) and window.layout[:, 0, 0].all()
    assert [data.previous(i) for i in range(4)] == [None, None, 0, 1]
    assert len(open_dataset(tmp_path, "synthtown", frames=3, splits=("val",))) == 1


def test_windows_collate_with_torch(tmp_path):
    torch = pytest.importorskip("torch")
    write_synthtown(tmp_path, [(make_scene("a", 6, 0), "train")], GRID)
    loader = torch.utils.data.DataLoader(open_dataset(tmp_path, "synthtown", frames=4), batch_size=2)
    batch = next(iter(loader))
    assert batch.labels.shape == (2, 4, 8, 8, 2) and batch.labels.dtype == torch.uint8
    assert batch.command.shape == (2,) and batch.trajectory.shape == (2, 4, 3)
