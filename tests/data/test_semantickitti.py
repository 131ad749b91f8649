"""SemanticKITTI semantic scene completion (`--format semantickitti`) against files written from the
owners' schema (tests/data/kitti_files.py): class counts, masks, poses and windows through the reader and
`dynamiccity inspect`, one-line errors for broken copies, and a micro VAE trained on it.

Expected classes come from the names below, written out from config/semantic-kitti.yaml (`learning_map`,
`learning_map_inv`) and from the common class each SemanticKITTI class is meant to join, rather than from
the package's tables, so that a wrong table entry fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dynamiccity.data import open_dataset, open_reader
from dynamiccity.runs.datasets import check_grid
from dynamiccity.vae.config import vae_preset
from dynamiccity.vae.model import HexPlaneVAE
from tests.cli import run
from tests.conftest import cli
from tests.data.kitti_files import (
    LABEL_NAMES,
    NUM_VOXELS,
    flat_index,
    pack_msb_first,
    random_frame,
    write_calib,
    write_semantickitti,
    write_voxel_frame,
)

# semantic-kitti.yaml learning_map, by name; "ignored": learns as unlabeled, which the completion metric
# ignores in voxels (only raw 0 is empty there)
LEARNS_AS = {
    "unlabeled": "free", "outlier": "ignored", "car": "car", "bicycle": "bicycle", "bus": "other-vehicle",
    "motorcycle": "motorcycle", "on-rails": "other-vehicle", "truck": "truck",
    "other-vehicle": "other-vehicle", "person": "person", "bicyclist": "bicyclist",
    "motorcyclist": "motorcyclist", "road": "road", "parking": "parking", "sidewalk": "sidewalk",
    "other-ground": "other-ground", "building": "building", "fence": "fence",
    "other-structure": "ignored", "lane-marking": "road", "vegetation": "vegetation", "trunk": "trunk",
    "terrain": "terrain", "pole": "pole", "traffic-sign": "traffic-sign", "other-object": "ignored",
    "moving-car": "car", "moving-bicyclist": "bicyclist", "moving-person": "person",
    "moving-motorcyclist": "motorcyclist", "moving-on-rails": "other-vehicle",
    "moving-bus": "other-vehicle", "moving-truck": "truck", "moving-other-vehicle": "other-vehicle",
}  # fmt: skip
# learning_map_inv's order: learning id -> name (0 is empty space in the voxel labels)
NATIVE_NAMES = (
    "free", "car", "bicycle", "motorcycle", "truck", "other-vehicle", "person", "bicyclist", "motorcyclist",
    "road", "parking", "sidewalk", "other-ground", "building", "fence", "vegetation", "trunk", "terrain",
    "pole", "traffic-sign",
)  # fmt: skip
JOINS = {
    "free": "free", "car": "vehicle", "bicycle": "bicycle", "motorcycle": "bicycle", "truck": "vehicle",
    "other-vehicle": "vehicle", "person": "pedestrian", "bicyclist": "bicycle", "motorcyclist": "bicycle",
    "road": "road", "parking": "road", "sidewalk": "sidewalk", "other-ground": "ground",
    "building": "building", "fence": "barrier", "vegetation": "vegetation", "trunk": "vegetation",
    "terrain": "ground", "pole": "pole", "traffic-sign": "pole",
}  # fmt: skip
COMMON_NAMES = (
    "free", "building", "barrier", "other", "pedestrian", "pole", "road", "ground", "sidewalk", "vegetation",
    "vehicle", "bicycle",
)  # fmt: skip
SEQUENCES = {"00": (3, 13), "08": (2, 7), "11": (2, 9)}  # {sequence: (voxel frames, scans)}


def expected_native(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw ids (any shape) -> (learning ids, ignored) by the names above."""
    ids, ignored = np.zeros(260, dtype=np.uint8), np.zeros(260, dtype=bool)
    for raw_id, name in LABEL_NAMES.items():
        learning = LEARNS_AS[name]
        ignored[raw_id] = learning == "ignored"
        ids[raw_id] = 0 if ignored[raw_id] else NATIVE_NAMES.index(learning)
    return ids[raw], ignored[raw]


def expected_counts(raw: np.ndarray, names: tuple[str, ...], join: dict[str, str]) -> dict[str, int]:
    native, _ = expected_native(raw)
    counts = dict.fromkeys(names, 0)
    for learning, count in zip(NATIVE_NAMES, np.bincount(native.reshape(-1), minlength=20), strict=True):
        counts[join[learning]] += int(count)
    return counts


@pytest.fixture(scope="module")
def kitti(tmp_path_factory):
    root = tmp_path_factory.mktemp("kitti")
    return root, write_semantickitti(root, SEQUENCES)


@pytest.mark.parametrize("classes", ["native", "common"])
def test_inspect_counts_every_class_exactly(kitti, capsys, classes):
    root, truth = kitti
    code, out, err = run(
        ["inspect", root, "--format", "semantickitti", "--json", "--classes", classes], capsys
    )
    assert (code, err) == (0, "")
    stats = json.loads(out)
    raw = np.concatenate([truth[name].raw for name in ("00", "08")])
    names, join = (NATIVE_NAMES, dict(zip(NATIVE_NAMES, NATIVE_NAMES, strict=True)))
    if classes == "common":
        names, join = COMMON_NAMES, JOINS
    assert stats["class_counts"] == expected_counts(raw, names, join)
    assert (stats["scenes"], stats["frames"], stats["splits"]) == (2, 5, {"train": 1, "val": 1})
    assert (stats["grid"], stats["extent"]) == ([256, 256, 32], [0.0, -25.6, -2.0, 51.2, 25.6, 4.4])
    invalid = np.concatenate([truth[name].invalid for name in ("00", "08")])
    assert stats["valid_fraction"] == pytest.approx((~invalid & ~expected_native(raw)[1]).mean())
    assert "velodyne frame" in stats["poses"]


def test_labels_and_mask_voxel_by_voxel(kitti):
    root, truth = kitti
    native = open_reader(root, "semantickitti", classes="native")
    common = open_reader(root, "semantickitti")
    assert native.classes.names == NATIVE_NAMES and common.classes.names == COMMON_NAMES
    scene = native.scenes()[0]
    labels, valid = native.read_frames(scene, 0, 3)
    ids, ignored = expected_native(truth["00"].raw)
    np.testing.assert_array_equal(labels, ids)
    np.testing.assert_array_equal(valid, ~truth["00"].invalid & ~ignored)
    assert valid.sum() < valid.size  # invalid voxels are masked
    np.testing.assert_array_equal(common.read_frames(scene, 0, 3)[0], native.classes.common(labels))
    # the car written at file position (200, 10, 5) is voxel x=200 (40 m ahead), y=10, z=5
    assert (labels[:, 200, 10, 5] == NATIVE_NAMES.index("car")).all()
    assert (common.read_frames(scene, 0, 1)[0][0, 200, 10, 5]) == COMMON_NAMES.index("vehicle")


def test_test_sequences_without_labels_are_left_out(kitti):
    root, _ = kitti
    assert [(s.name, s.split) for s in open_reader(root, "semantickitti").scenes()] == [
        ("00", "train"),
        ("08", "val"),
    ]
    # the folder that holds sequences/ is read as well as the one above it
    assert len(open_reader(root / "dataset", "semantickitti").scenes()) == 2


def test_poses_are_the_velodyne_poses_of_the_voxel_scans(kitti):
    root, truth = kitti
    reader = open_reader(root, "semantickitti")
    for scene in reader.scenes():
        expected = truth[scene.name].velo_poses[[0, 5, 10][: scene.num_frames]]
        np.testing.assert_allclose(reader.read_poses(scene), expected, atol=1e-4)
    # the ego drives forward along the velodyne x axis: 5 m between voxel frames (2 Hz, 10 m/s)
    assert reader.read_poses(reader.scenes()[0])[1, :3, 3] == pytest.approx([5.0, 0.25, 0.01], abs=1e-4)


def test_windows_are_consecutive_voxel_frames(kitti):
    root, truth = kitti
    windows = open_dataset(root, "semantickitti", frames=2, classes="native")
    assert windows.grid.hz == 2.0
    assert windows.index == [(0, 0), (0, 1), (1, 0)]
    window = windows[1]
    np.testing.assert_array_equal(window.labels, expected_native(truth["00"].raw[1:3])[0])
    np.testing.assert_allclose(window.poses, truth["00"].velo_poses[[5, 10]], atol=1e-4)
    velo = truth["00"].velo_poses
    ahead = (np.linalg.inv(velo[5]) @ velo[10])[:2, 3]  # the next frame in the window's first ego frame
    np.testing.assert_allclose(window.trajectory[1, :2], ahead, atol=1e-3)
    assert len(open_dataset(root, "semantickitti", frames=2, splits=("val",))) == 1


def test_the_preset_fits_the_grid(kitti):
    root, _ = kitti
    cfg = vae_preset("semantickitti")
    windows = open_dataset(root, "semantickitti", frames=cfg.frames)
    check_grid(windows, cfg)
    assert cfg.latent_grid == (8, 64, 64, 8)
    with torch.device("meta"):
        out = HexPlaneVAE(cfg)(torch.zeros(1, cfg.frames, *windows.grid.shape, dtype=torch.long))
    assert out.logits.shape == (1, 16, 256, 256, 32, 12)


def test_a_micro_vae_trains_on_it(kitti, tmp_path):
    """A micro VAE's training steps at the full 256x256x32 grid (the reader takes its grid from the owners'
    documentation, not from file sizes, and training has no crop)."""
    root, _ = kitti
    run_dir = tmp_path / "run"
    cli("train-vae", "--preset", "synthtown-micro", "--data", root, "--format", "semantickitti", "--out", run_dir,
        "--steps", "1", "--set", "grid=[256,256,32]", "--set", "frames=2", "--set", "downsample=[1,8,8,4]",
        "--set", "val_windows=1", "--set", "weight_frames=4")  # fmt: skip
    record = json.loads((run_dir / "checkpoints" / "last.json").read_text())
    assert record["step"] == 1 and record["config"]["model"]["grid"] == [256, 256, 32]
    assert record["config"]["data"]["format"] == "semantickitti"


# Broken copies: each writes one train sequence, breaks it, and returns (root, the path the error names).

SEQ = Path("dataset/sequences/00")


def one_sequence(tmp_path, frames=2, scans=7):
    write_semantickitti(tmp_path, {"00": (frames, scans)}, seed=1)
    return tmp_path / SEQ


def label_wrong_size(tmp_path):
    path = one_sequence(tmp_path) / "voxels/000005.label"
    path.write_bytes(path.read_bytes()[:-2])
    return tmp_path, path


def label_as_uint32(tmp_path):
    """The point-cloud label files are uint32 (instance << 16 | semantic); the voxel ones are uint16."""
    path = one_sequence(tmp_path) / "voxels/000000.label"
    np.fromfile(path, dtype="<u2").astype("<u4").tofile(path)
    return tmp_path, path


def unknown_label_id(tmp_path):
    folder = one_sequence(tmp_path) / "voxels"
    raw, invalid = random_frame(np.random.default_rng(2))
    raw[flat_index(3, 4, 5)] = 7  # not in semantic-kitti.yaml
    write_voxel_frame(folder, 5, raw, invalid)
    return tmp_path, folder / "000005.label"


def missing_invalid(tmp_path):
    path = one_sequence(tmp_path) / "voxels/000005.invalid"
    path.unlink()
    return tmp_path, path


def invalid_unpacked(tmp_path):
    """One byte a voxel instead of one bit."""
    path = one_sequence(tmp_path) / "voxels/000000.invalid"
    np.zeros(NUM_VOXELS, dtype=np.uint8).tofile(path)
    return tmp_path, path


def missing_calib(tmp_path):
    path = one_sequence(tmp_path) / "calib.txt"
    path.unlink()
    return tmp_path, path


def calib_without_tr(tmp_path):
    path = one_sequence(tmp_path) / "calib.txt"
    write_calib(path, None)
    return tmp_path, path


def calib_tr_short(tmp_path):
    path = one_sequence(tmp_path) / "calib.txt"
    path.write_text(path.read_text().rsplit(" ", 1)[0] + "\n")
    return tmp_path, path


def calib_tr_not_rigid(tmp_path):
    path = one_sequence(tmp_path) / "calib.txt"
    write_calib(path, np.diag([2.0, 1.0, 1.0, 1.0]))
    return tmp_path, path


def poses_too_few(tmp_path):
    path = one_sequence(tmp_path) / "poses.txt"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:5]))
    return tmp_path, path


def poses_too_many(tmp_path):
    path = one_sequence(tmp_path, scans=11) / "poses.txt"  # 11 scans, but the last voxel frame is scan 5
    return tmp_path, path


def poses_nan(tmp_path):
    path = one_sequence(tmp_path) / "poses.txt"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines[:3], "nan " + lines[3].split(" ", 1)[1], *lines[4:]]))
    return tmp_path, path


def missing_poses(tmp_path):
    path = one_sequence(tmp_path) / "poses.txt"
    path.unlink()
    return tmp_path, path


def voxel_frame_missing(tmp_path):
    folder = one_sequence(tmp_path, frames=3, scans=13) / "voxels"
    for path in folder.glob("000005.*"):
        path.unlink()
    return tmp_path, folder / "000010.label"


def voxel_frame_off_step(tmp_path):
    folder = one_sequence(tmp_path) / "voxels"
    for path in folder.glob("000005.*"):
        path.rename(path.with_stem("000006"))
    return tmp_path, folder / "000006.label"


def train_sequence_without_labels(tmp_path):
    folder = one_sequence(tmp_path) / "voxels"
    for path in folder.glob("*.label"):
        path.unlink()
    return tmp_path, folder


def unknown_sequence(tmp_path):
    one_sequence(tmp_path)
    folder = tmp_path / "dataset/sequences/22"
    (folder / "voxels").mkdir(parents=True)
    pack_msb_first(np.zeros(NUM_VOXELS, dtype=bool)).tofile(folder / "voxels/000000.bin")
    return tmp_path, folder


def no_sequences(tmp_path):
    (tmp_path / "dataset").mkdir()
    return tmp_path, tmp_path


CASES = [
    label_wrong_size, label_as_uint32, unknown_label_id, missing_invalid, invalid_unpacked, missing_calib,
    calib_without_tr, calib_tr_short, calib_tr_not_rigid, poses_too_few, poses_too_many, poses_nan,
    missing_poses, voxel_frame_missing, voxel_frame_off_step, train_sequence_without_labels,
    unknown_sequence, no_sequences,
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_inspect_of_a_broken_copy_is_one_line_naming_the_file(case, tmp_path, capsys):
    root, offending = case(tmp_path)
    code, out, err = run(["inspect", root, "--format", "semantickitti"], capsys)
    assert code == 1 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: ") and str(offending) in line
