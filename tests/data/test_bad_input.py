"""A corpus of broken datasets: reading each one end to end (what `dynamiccity inspect` does) fails with one
DataError of one line that names the offending file, never another exception or a silent wrong answer.

Each case writes a small dataset in its real layout, breaks it, and returns (root, format, offending path).
tests/cli/test_data_commands.py runs the same cases through `dynamiccity inspect`.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dynamiccity.data import DataError, open_reader
from dynamiccity.data.inspect import inspect_dataset
from tests.conftest import (
    OCC3D_SHAPE,
    nuscenes_token,
    write_carlasc,
    write_nuscenes,
    write_town,
    write_waymo,
)

CARLA_SEQ = Path("Cartesian/Train/Town01_Light/cartesian")


def rewrite_npz(path: Path, **changes) -> None:
    """Rewrite an .npz with some arrays replaced (value) or dropped (None)."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    np.savez_compressed(path, **arrays)


def edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


# CarlaSC


def carlasc(tmp_path, frames=2):
    write_carlasc(tmp_path, frames=frames)
    return tmp_path / CARLA_SEQ


def carlasc_empty_label(tmp_path):
    path = carlasc(tmp_path) / "evaluation/000001.label"
    path.write_bytes(b"")
    return tmp_path, "carlasc", path


def carlasc_empty_poses(tmp_path):
    path = carlasc(tmp_path) / "poses.txt"
    path.write_bytes(b"")
    return tmp_path, "carlasc", path


def carlasc_label_too_long(tmp_path):
    path = carlasc(tmp_path) / "evaluation/000000.label"
    path.write_bytes(path.read_bytes() + b"\0" * 4)
    return tmp_path, "carlasc", path


def carlasc_bin_wrong_size(tmp_path):
    path = carlasc(tmp_path) / "evaluation/000001.bin"
    path.write_bytes(path.read_bytes()[:1000])
    return tmp_path, "carlasc", path


def carlasc_label_id_out_of_range(tmp_path):
    path = carlasc(tmp_path) / "evaluation/000000.label"
    raw = np.fromfile(path, dtype=np.uint32)
    raw[7] = 256 + 7  # would wrap to road as uint8
    raw.tofile(path)
    return tmp_path, "carlasc", path


def carlasc_duplicated_frame(tmp_path):
    folder = carlasc(tmp_path) / "evaluation"
    for suffix in (".label", ".bin"):
        (folder / f"1{suffix}").write_bytes((folder / f"000001{suffix}").read_bytes())
    return tmp_path, "carlasc", folder / "1.label"


def carlasc_nan_pose(tmp_path):
    path = carlasc(tmp_path) / "poses.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "nan 0 0 0 0 1 0 0 0 0 1 0"]) + "\n")
    return tmp_path, "carlasc", path


def carlasc_non_rigid_pose(tmp_path):
    path = carlasc(tmp_path) / "poses.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "1 0.5 0 0 0 1 0 0 0 0 1 0"]) + "\n")
    return tmp_path, "carlasc", path


def carlasc_too_few_poses(tmp_path):
    path = carlasc(tmp_path, frames=3) / "poses.txt"
    path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n")
    return tmp_path, "carlasc", path


def carlasc_missing_poses(tmp_path):
    path = carlasc(tmp_path) / "poses.txt"
    path.unlink()
    return tmp_path, "carlasc", path


def carlasc_empty_split(tmp_path):
    carlasc(tmp_path)
    folder = tmp_path / "Cartesian" / "Val"
    folder.mkdir()
    return tmp_path, "carlasc", folder


# Occ3D-nuScenes


def nuscenes(tmp_path, frames=2):
    write_nuscenes(tmp_path, {"scene-0001": frames, "scene-0002": 1})
    return sorted((tmp_path / "gts" / "scene-0001").glob("*/labels.npz"))


def nuscenes_empty_npz(tmp_path):
    path = nuscenes(tmp_path)[1]
    path.write_bytes(b"")
    return tmp_path, "occ3d-nuscenes", path


def nuscenes_empty_annotations(tmp_path):
    nuscenes(tmp_path)
    path = tmp_path / "annotations.json"
    path.write_bytes(b"")
    return tmp_path, "occ3d-nuscenes", path


def nuscenes_wrong_shape(tmp_path):
    path = nuscenes(tmp_path)[0]
    rewrite_npz(path, semantics=np.zeros((200, 200, 8), np.uint8))
    return tmp_path, "occ3d-nuscenes", path


def nuscenes_float_semantics(tmp_path):
    path = nuscenes(tmp_path)[0]
    rewrite_npz(path, semantics=np.full(OCC3D_SHAPE, 3.7, np.float32))
    return tmp_path, "occ3d-nuscenes", path


def nuscenes_negative_semantics(tmp_path):
    path = nuscenes(tmp_path)[0]
    semantics = np.full(OCC3D_SHAPE, 17, np.int16)
    semantics[0, 0, 0] = -256  # would wrap to 0 ("others") as uint8
    rewrite_npz(path, semantics=semantics)
    return tmp_path, "occ3d-nuscenes", path


def nuscenes_truncated_npz(tmp_path):
    path = nuscenes(tmp_path)[1]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return tmp_path, "occ3d-nuscenes", path


def nuscenes_npy_named_npz(tmp_path):
    path = nuscenes(tmp_path)[0]
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(OCC3D_SHAPE, np.uint8))
    path.write_bytes(buffer.getvalue())
    return tmp_path, "occ3d-nuscenes", path


def nuscenes_missing_key(tmp_path):
    path = nuscenes(tmp_path)[0]
    rewrite_npz(path, mask_lidar=None)
    return tmp_path, "occ3d-nuscenes", path


def nuscenes_token_without_file(tmp_path):
    path = nuscenes(tmp_path)[1]
    path.unlink()
    path.parent.rmdir()
    return tmp_path, "occ3d-nuscenes", path


def nuscenes_file_without_token(tmp_path):
    nuscenes(tmp_path)
    path = tmp_path / "gts" / "scene-0001" / "stray_token" / "labels.npz"
    path.parent.mkdir()
    np.savez_compressed(path, semantics=np.zeros(OCC3D_SHAPE, np.uint8))
    return tmp_path, "occ3d-nuscenes", path


def nuscenes_scene_without_annotation(tmp_path):
    nuscenes(tmp_path)
    path = tmp_path / "gts" / "scene-0099" / "tok" / "labels.npz"
    path.parent.mkdir(parents=True)
    np.savez_compressed(path, semantics=np.zeros(OCC3D_SHAPE, np.uint8))
    return tmp_path, "occ3d-nuscenes", path


def nuscenes_duplicated_timestamp(tmp_path):
    nuscenes(tmp_path, frames=3)

    def edit(data):
        frames = data["scene_infos"]["scene-0001"]
        frames[nuscenes_token(0, 2)]["timestamp"] = frames[nuscenes_token(0, 1)]["timestamp"]

    edit_json(tmp_path / "annotations.json", edit)
    return tmp_path, "occ3d-nuscenes", tmp_path / "annotations.json"


def nuscenes_timestamp_not_a_string_or_number(tmp_path):
    nuscenes(tmp_path)
    edit_json(
        tmp_path / "annotations.json",
        lambda data: data["scene_infos"]["scene-0001"][nuscenes_token(0, 1)].update(timestamp=[1, 2]),
    )
    return tmp_path, "occ3d-nuscenes", tmp_path / "annotations.json"


def nuscenes_chain_broken(tmp_path):
    nuscenes(tmp_path, frames=3)
    edit_json(
        tmp_path / "annotations.json",
        lambda data: data["scene_infos"]["scene-0001"][nuscenes_token(0, 0)].update(
            next=nuscenes_token(7, 7)
        ),
    )
    return tmp_path, "occ3d-nuscenes", tmp_path / "annotations.json"


def nuscenes_chain_forked(tmp_path):
    nuscenes(tmp_path, frames=3)

    def edit(data):  # frame 2 claims frame 0 as its prev while frame 1 does too
        data["scene_infos"]["scene-0001"][nuscenes_token(0, 2)]["prev"] = nuscenes_token(0, 0)

    edit_json(tmp_path / "annotations.json", edit)
    return tmp_path, "occ3d-nuscenes", tmp_path / "annotations.json"


def nuscenes_chain_cyclic(tmp_path):
    nuscenes(tmp_path, frames=3)

    def edit(data):  # the last frame leads back to the second
        frames = data["scene_infos"]["scene-0001"]
        frames[nuscenes_token(0, 2)]["next"] = nuscenes_token(0, 1)
        frames[nuscenes_token(0, 1)]["prev"] = nuscenes_token(0, 2)

    edit_json(tmp_path / "annotations.json", edit)
    return tmp_path, "occ3d-nuscenes", tmp_path / "annotations.json"


def nuscenes_chain_without_first_frame(tmp_path):
    nuscenes(tmp_path, frames=2)

    def edit(data):  # two scenes' chains crossed: no frame of scene-0001 starts it
        frames = data["scene_infos"]["scene-0001"]
        frames[nuscenes_token(0, 0)]["prev"] = nuscenes_token(0, 1)

    edit_json(tmp_path / "annotations.json", edit)
    return tmp_path, "occ3d-nuscenes", tmp_path / "annotations.json"


def nuscenes_nan_pose(tmp_path):
    nuscenes(tmp_path)

    def edit(data):
        data["scene_infos"]["scene-0001"][nuscenes_token(0, 1)]["ego_pose"]["rotation"][0] = float("nan")

    edit_json(tmp_path / "annotations.json", edit)
    return tmp_path, "occ3d-nuscenes", tmp_path / "annotations.json"


def nuscenes_malformed_pose(tmp_path):
    nuscenes(tmp_path)

    def edit(data):
        data["scene_infos"]["scene-0001"][nuscenes_token(0, 1)]["ego_pose"]["translation"] = [1.0, 2.0]

    edit_json(tmp_path / "annotations.json", edit)
    return tmp_path, "occ3d-nuscenes", tmp_path / "annotations.json"


def nuscenes_scene_not_a_mapping(tmp_path):
    nuscenes(tmp_path)
    edit_json(tmp_path / "annotations.json", lambda data: data["scene_infos"].update({"scene-0002": ["tok"]}))
    return tmp_path, "occ3d-nuscenes", tmp_path / "annotations.json"


def nuscenes_empty_split(tmp_path):
    nuscenes(tmp_path)
    (tmp_path / "gts" / "scene-0002" / nuscenes_token(1, 0) / "labels.npz").unlink()
    edit_json(tmp_path / "annotations.json", lambda data: data["scene_infos"].pop("scene-0002"))
    return tmp_path, "occ3d-nuscenes", tmp_path / "annotations.json"  # val_split names only scene-0002


# Occ3D-Waymo


def waymo(tmp_path, frames=2, ego2global=True):
    write_waymo(tmp_path, frames=frames, ego2global=ego2global)
    return tmp_path / "training" / "000"


def waymo_empty_npz(tmp_path):
    path = waymo(tmp_path) / "001_04.npz"
    path.write_bytes(b"")
    return tmp_path, "occ3d-waymo", path


def waymo_corrupted_npz(tmp_path):
    path = waymo(tmp_path) / "000_04.npz"
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("voxel_label.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 100 : start + 400] = bytes(300)  # zeros inside the compressed stream, headers intact
    path.write_bytes(bytes(data))
    return tmp_path, "occ3d-waymo", path


def waymo_missing_labels(tmp_path):
    path = waymo(tmp_path) / "001_04.npz"
    rewrite_npz(path, voxel_label=None)
    return tmp_path, "occ3d-waymo", path


def waymo_missing_mask(tmp_path):
    path = waymo(tmp_path) / "000_04.npz"
    rewrite_npz(path, origin_voxel_state=None)
    return tmp_path, "occ3d-waymo", path


def waymo_float_labels(tmp_path):
    path = waymo(tmp_path) / "000_04.npz"
    rewrite_npz(path, voxel_label=np.full(OCC3D_SHAPE, 13.5))
    return tmp_path, "occ3d-waymo", path


def waymo_negative_labels(tmp_path):
    path = waymo(tmp_path) / "001_04.npz"
    labels = np.full(OCC3D_SHAPE, 23, np.int32)
    labels[5, 5, 5] = -233  # would wrap to the free id 23 as uint8
    rewrite_npz(path, voxel_label=labels)
    return tmp_path, "occ3d-waymo", path


def waymo_duplicated_frame(tmp_path):
    folder = waymo(tmp_path)
    (folder / "1_04.npz").write_bytes((folder / "001_04.npz").read_bytes())
    return tmp_path, "occ3d-waymo", folder / "1_04.npz"


def waymo_nan_ego2global(tmp_path):
    path = waymo(tmp_path) / "001_04.npz"
    pose = np.eye(4)
    pose[0, 3] = np.nan
    rewrite_npz(path, ego2global=pose)
    return tmp_path, "occ3d-waymo", path


def waymo_non_rigid_ego2global(tmp_path):
    path = waymo(tmp_path) / "001_04.npz"
    rewrite_npz(path, ego2global=np.diag([2.0, 1.0, 1.0, 1.0]))
    return tmp_path, "occ3d-waymo", path


def waymo_malformed_ego2global(tmp_path):
    path = waymo(tmp_path) / "001_04.npz"
    rewrite_npz(path, ego2global=np.eye(3))
    return tmp_path, "occ3d-waymo", path


def waymo_ego2global_in_some_frames(tmp_path):
    path = waymo(tmp_path) / "001_04.npz"
    rewrite_npz(path, ego2global=None)
    return tmp_path, "occ3d-waymo", path


def waymo_pose_count(tmp_path):
    path = waymo(tmp_path, frames=3, ego2global=False) / "poses.txt"
    path.write_text("1 0 0 0 0 1 0 0 0 0 1 0\n1 0 0 1 0 1 0 0 0 0 1 0\n")
    return tmp_path, "occ3d-waymo", path


def waymo_non_rigid_pose_file(tmp_path):
    path = waymo(tmp_path, ego2global=False) / "poses.txt"
    path.write_text("1 0 0 0 0 1 0 0 0 0 1 0\n1 0 0 1 0 1 0 0 0 0 3 0\n")
    return tmp_path, "occ3d-waymo", path


def waymo_empty_split(tmp_path):
    waymo(tmp_path)
    folder = tmp_path / "validation"
    folder.mkdir()
    return tmp_path, "occ3d-waymo", folder


# SynthTown


def town(tmp_path, frames=3):
    write_town(tmp_path, {"a": ("train", frames), "b": ("val", 2)})
    return tmp_path / "a"


def synthtown_empty_labels(tmp_path):
    path = town(tmp_path) / "labels.npy"
    path.write_bytes(b"")
    return tmp_path, "synthtown", path


def synthtown_empty_poses(tmp_path):
    path = town(tmp_path) / "poses.npy"
    path.write_bytes(b"")
    return tmp_path, "synthtown", path


def synthtown_empty_manifest(tmp_path):
    town(tmp_path)
    path = tmp_path / "dataset.json"
    path.write_bytes(b"")
    return tmp_path, "synthtown", path


def synthtown_truncated_labels(tmp_path):
    path = town(tmp_path) / "labels.npy"
    path.write_bytes(path.read_bytes()[:200])
    return tmp_path, "synthtown", path


def synthtown_labels_wrong_frames(tmp_path):
    path = town(tmp_path) / "labels.npy"
    np.save(path, np.load(path)[:2])
    return tmp_path, "synthtown", path


def synthtown_int64_labels(tmp_path):
    path = town(tmp_path) / "labels.npy"
    np.save(path, np.load(path).astype(np.int64))
    return tmp_path, "synthtown", path


def synthtown_text_poses(tmp_path):
    path = town(tmp_path) / "poses.npy"
    np.save(path, np.full((3, 4, 4), "x"))
    return tmp_path, "synthtown", path


def synthtown_nan_pose(tmp_path):
    path = town(tmp_path) / "poses.npy"
    poses = np.load(path)
    poses[1, 2, 3] = np.nan
    np.save(path, poses)
    return tmp_path, "synthtown", path


def synthtown_non_rigid_pose(tmp_path):
    path = town(tmp_path) / "poses.npy"
    poses = np.load(path)
    poses[2, :3, :3] *= 1.5
    np.save(path, poses)
    return tmp_path, "synthtown", path


def synthtown_pose_count(tmp_path):
    path = town(tmp_path) / "poses.npy"
    np.save(path, np.load(path)[:2])
    return tmp_path, "synthtown", path


def synthtown_missing_poses(tmp_path):
    path = town(tmp_path) / "poses.npy"
    path.unlink()
    return tmp_path, "synthtown", path


def synthtown_duplicated_scene(tmp_path):
    town(tmp_path)
    path = tmp_path / "dataset.json"
    edit_json(path, lambda data: data["scenes"].append(dict(data["scenes"][0])))
    return tmp_path, "synthtown", path


def synthtown_entry_without_frames(tmp_path):
    town(tmp_path)
    path = tmp_path / "dataset.json"
    edit_json(path, lambda data: data["scenes"][1].pop("frames"))
    return tmp_path, "synthtown", path


def synthtown_malformed_grid(tmp_path):
    town(tmp_path)
    path = tmp_path / "dataset.json"
    edit_json(path, lambda data: data.update(grid=8))
    return tmp_path, "synthtown", path


def synthtown_lists_no_scenes(tmp_path):
    town(tmp_path)
    path = tmp_path / "dataset.json"
    edit_json(path, lambda data: data.update(scenes=[]))
    return tmp_path, "synthtown", path


CASES = [
    carlasc_empty_label, carlasc_empty_poses, carlasc_label_too_long, carlasc_bin_wrong_size,
    carlasc_label_id_out_of_range, carlasc_duplicated_frame, carlasc_nan_pose, carlasc_non_rigid_pose,
    carlasc_too_few_poses, carlasc_missing_poses, carlasc_empty_split,
    nuscenes_empty_npz, nuscenes_empty_annotations, nuscenes_wrong_shape, nuscenes_float_semantics,
    nuscenes_negative_semantics, nuscenes_truncated_npz, nuscenes_npy_named_npz, nuscenes_missing_key,
    nuscenes_token_without_file, nuscenes_file_without_token, nuscenes_scene_without_annotation,
    nuscenes_duplicated_timestamp, nuscenes_timestamp_not_a_string_or_number, nuscenes_chain_broken,
    nuscenes_chain_forked, nuscenes_chain_cyclic, nuscenes_chain_without_first_frame, nuscenes_nan_pose, nuscenes_malformed_pose, nuscenes_scene_not_a_mapping,
    nuscenes_empty_split,
    waymo_empty_npz, waymo_corrupted_npz, waymo_missing_labels, waymo_missing_mask, waymo_float_labels,
    waymo_negative_labels, waymo_duplicated_frame, waymo_nan_ego2global, waymo_non_rigid_ego2global,
    waymo_malformed_ego2global, waymo_ego2global_in_some_frames, waymo_pose_count, waymo_non_rigid_pose_file,
    waymo_empty_split,
    synthtown_empty_labels, synthtown_empty_poses, synthtown_empty_manifest, synthtown_truncated_labels,
    synthtown_labels_wrong_frames, synthtown_int64_labels, synthtown_text_poses, synthtown_nan_pose,
    synthtown_non_rigid_pose, synthtown_pose_count, synthtown_missing_poses, synthtown_duplicated_scene,
    synthtown_entry_without_frames, synthtown_malformed_grid, synthtown_lists_no_scenes,
]  # fmt: skip
"""Every broken dataset: a function (tmp_path) -> (root, format, the path the error must name)."""


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_reading_a_broken_dataset_is_one_data_error(case, tmp_path):
    root, format, offending = case(tmp_path)
    with pytest.raises(DataError) as err:
        inspect_dataset(open_reader(root, format))
    message = str(err.value)
    assert "\n" not in message
    assert str(offending) in message
