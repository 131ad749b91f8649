"""Each reader against small files in the dataset's real layout, including the bad inputs.

Expected labels come from the mappings below, written out from each dataset's own documentation rather
than from the package's tables, so that a wrong table entry fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dynamiccity.data import DataError, open_reader
from dynamiccity.data.classes import (
    CARLASC_RAW_NAMES,
    CLASS_NAMES,
    NUSCENES_RAW_NAMES,
    WAYMO_RAW_NAMES,
    lookup_table,
)
from dynamiccity.data.reader import remap
from tests.conftest import OCC3D_SHAPE, write_carlasc, write_nuscenes, write_waymo, yaw_pose

COMMON_IDS = {
    "free": 0, "building": 1, "barrier": 2, "other": 3, "pedestrian": 4, "pole": 5, "road": 6, "ground": 7,
    "sidewalk": 8, "vegetation": 9, "vehicle": 10, "bicycle": 11,
}  # fmt: skip

# raw id -> (raw name, common name)
CARLASC_CLASSES = {
    0: ("free", "free"), 1: ("building", "building"), 2: ("barrier", "barrier"), 3: ("other", "other"),
    4: ("pedestrian", "pedestrian"), 5: ("pole", "pole"), 6: ("roadline", "road"), 7: ("road", "road"),
    8: ("sidewalk", "sidewalk"), 9: ("vegetation", "vegetation"), 10: ("vehicle", "vehicle"),
    11: ("wall", "barrier"), 12: ("trafficsign", "pole"), 13: ("sky", "other"), 14: ("ground", "ground"),
    15: ("bridge", "other"), 16: ("railtrack", "other"), 17: ("guardrail", "barrier"),
    18: ("trafficlight", "pole"), 19: ("static", "other"), 20: ("dynamic", "other"), 21: ("water", "other"),
    22: ("terrain", "ground"),
}  # fmt: skip
NUSCENES_CLASSES = {
    0: ("others", "other"), 1: ("barrier", "barrier"), 2: ("bicycle", "bicycle"), 3: ("bus", "vehicle"),
    4: ("car", "vehicle"), 5: ("construction_vehicle", "vehicle"), 6: ("motorcycle", "bicycle"),
    7: ("pedestrian", "pedestrian"), 8: ("traffic_cone", "pole"), 9: ("trailer", "vehicle"),
    10: ("truck", "vehicle"), 11: ("driveable_surface", "road"), 12: ("other_flat", "ground"),
    13: ("sidewalk", "sidewalk"), 14: ("terrain", "ground"), 15: ("manmade", "building"),
    16: ("vegetation", "vegetation"), 17: ("free", "free"),
}  # fmt: skip
WAYMO_CLASSES = {
    0: ("general_object", "other"), 1: ("vehicle", "vehicle"), 2: ("pedestrian", "pedestrian"),
    3: ("sign", "pole"), 4: ("cyclist", "bicycle"), 5: ("traffic_light", "pole"), 6: ("pole", "pole"),
    7: ("construction_cone", "pole"), 8: ("bicycle", "bicycle"), 9: ("motorcycle", "bicycle"),
    10: ("building", "building"), 11: ("vegetation", "vegetation"), 12: ("tree_trunk", "vegetation"),
    13: ("road", "road"), 14: ("sidewalk", "sidewalk"),
}  # fmt: skip
WAYMO_FREE_IDS = (15, 23)


def expected_ids(classes: dict[int, tuple[str, str]]) -> np.ndarray:
    """The common id of each raw id 0..R-1 of a literal mapping."""
    return np.array([COMMON_IDS[classes[i][1]] for i in range(len(classes))], dtype=np.uint8)


CARLASC_EXPECTED, NUSCENES_EXPECTED, WAYMO_EXPECTED = map(
    expected_ids, (CARLASC_CLASSES, NUSCENES_CLASSES, WAYMO_CLASSES)
)


def test_common_class_ids():
    assert dict(enumerate(CLASS_NAMES)) == {i: name for name, i in COMMON_IDS.items()}


@pytest.mark.parametrize(
    ("names", "classes"),
    [
        (CARLASC_RAW_NAMES, CARLASC_CLASSES),
        (NUSCENES_RAW_NAMES, NUSCENES_CLASSES),
        (WAYMO_RAW_NAMES, WAYMO_CLASSES),
    ],
)
def test_raw_class_names(names, classes):
    assert names == tuple(classes[i][0] for i in range(len(classes)))


class TestCarlaSC:
    def test_reads_labels_validity_and_poses(self, tmp_path):
        raw, counts, poses = write_carlasc(tmp_path, frames=3)
        reader = open_reader(tmp_path, "carlasc")
        (scene,) = reader.scenes()
        assert (scene.name, scene.split, scene.num_frames) == ("Train/Town01_Light", "train", 3)
        labels, valid = reader.read_frames(scene, 1, 3)
        np.testing.assert_array_equal(labels, CARLASC_EXPECTED[raw[1:3]])
        np.testing.assert_array_equal(valid, counts[1:3] > 0)
        np.testing.assert_allclose(reader.read_poses(scene), poses, atol=1e-9)

    def test_truncated_label_file(self, tmp_path):
        write_carlasc(tmp_path, frames=2)
        path = tmp_path / "Cartesian/Train/Town01_Light/cartesian/evaluation/000001.label"
        path.write_bytes(path.read_bytes()[:-4])
        reader = open_reader(tmp_path, "carlasc")
        with pytest.raises(DataError, match=r"000001\.label: 524284 bytes, expected 524288"):
            reader.read_frames(reader.scenes()[0], 0, 2)

    def test_unknown_class_id(self, tmp_path):
        write_carlasc(tmp_path, frames=1)
        path = tmp_path / "Cartesian/Train/Town01_Light/cartesian/evaluation/000000.label"
        raw = np.fromfile(path, dtype=np.uint32)
        raw[5] = 23
        raw.tofile(path)
        reader = open_reader(tmp_path, "carlasc")
        with pytest.raises(DataError, match="class id 23 is outside CarlaSC's 23 classes"):
            reader.read_frames(reader.scenes()[0], 0, 1)

    def test_missing_validity_file(self, tmp_path):
        write_carlasc(tmp_path, frames=1)
        (tmp_path / "Cartesian/Train/Town01_Light/cartesian/evaluation/000000.bin").unlink()
        reader = open_reader(tmp_path, "carlasc")
        with pytest.raises(DataError, match=r"000000\.bin: file does not exist"):
            reader.read_frames(reader.scenes()[0], 0, 1)

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ("nan 0 0 0 0 1 0 0 0 0 1 0", "NaN"),
            ("2 0 0 0 0 1 0 0 0 0 1 0", "not a rigid"),
            ("1 0 0", r"line 2 has 3 numbers, expected 12 \(3x4\)"),
        ],
    )
    def test_bad_pose(self, tmp_path, line, message):
        write_carlasc(tmp_path, frames=2)
        path = tmp_path / "Cartesian/Train/Town01_Light/cartesian/poses.txt"
        lines = path.read_text().splitlines()
        path.write_text("\n".join([lines[0], line]) + "\n")
        reader = open_reader(tmp_path, "carlasc")
        with pytest.raises(DataError, match=message):
            reader.read_poses(reader.scenes()[0])

    def test_missing_poses(self, tmp_path):
        write_carlasc(tmp_path, frames=1)
        (tmp_path / "Cartesian/Train/Town01_Light/cartesian/poses.txt").unlink()
        reader = open_reader(tmp_path, "carlasc")
        with pytest.raises(DataError, match=r"poses\.txt: poses file does not exist"):
            reader.read_poses(reader.scenes()[0])

    def test_too_few_poses(self, tmp_path):
        write_carlasc(tmp_path, frames=3)
        path = tmp_path / "Cartesian/Train/Town01_Light/cartesian/poses.txt"
        path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n")
        reader = open_reader(tmp_path, "carlasc")
        with pytest.raises(DataError, match="frame 2 needs pose line 3"):
            reader.read_poses(reader.scenes()[0])

    def test_empty_and_missing_roots(self, tmp_path):
        with pytest.raises(DataError, match="does not exist"):
            open_reader(tmp_path / "nope", "carlasc")
        with pytest.raises(DataError, match="no Cartesian/ folder"):
            open_reader(tmp_path, "carlasc")
        (tmp_path / "Cartesian" / "Train").mkdir(parents=True)
        with pytest.raises(DataError, match="no sequences"):
            open_reader(tmp_path, "carlasc")


class TestOcc3DNuScenes:
    @pytest.mark.parametrize(
        ("timestamps", "chain", "end", "listed"),
        [
            ("string", True, "", "time"),  # the README's schema, nuScenes' end marker
            ("string", True, "EOF", "reversed"),  # the chain orders frames listed against time
            ("string", True, None, "time"),
            ("number", True, "", "reversed"),
            ("token", True, "", "reversed"),  # "timestamp (or token)": the chain alone orders them
            ("string", False, "", "reversed"),  # no chain: numeric strings order them
            ("number", False, "", "reversed"),  # derived files: JSON numbers
            ("token", False, "", "time"),  # neither: the file's order, documented as time order
        ],
    )
    def test_reads_each_documented_variation_in_time_order(self, tmp_path, timestamps, chain, end, listed):
        truth = write_nuscenes(
            tmp_path,
            {"scene-0001": 3, "scene-0002": 2},
            timestamps=timestamps,
            chain=chain,
            end=end,
            listed=listed,
        )
        reader = open_reader(tmp_path, "occ3d-nuscenes")
        scenes = reader.scenes()
        assert [(s.name, s.split, s.num_frames) for s in scenes] == [
            ("scene-0001", "train", 3),
            ("scene-0002", "val", 2),
        ]
        labels, valid = reader.read_frames(scenes[0], 0, 3)
        for t in range(3):
            semantics, lidar, _ = truth[("scene-0001", t)]
            np.testing.assert_array_equal(labels[t], NUSCENES_EXPECTED[semantics])
            np.testing.assert_array_equal(valid[t], lidar)
        poses = reader.read_poses(scenes[0])
        np.testing.assert_allclose(poses[2], yaw_pose(4.0, 0.0, 0.04), atol=1e-9)

    def test_without_chain_or_numeric_timestamps_the_file_order_is_kept(self, tmp_path):
        truth = write_nuscenes(
            tmp_path, {"scene-0001": 3}, timestamps="token", chain=False, listed="reversed"
        )
        reader = open_reader(tmp_path, "occ3d-nuscenes", mask="none")
        labels, _ = reader.read_frames(reader.scenes()[0], 0, 3)
        for t in range(3):
            np.testing.assert_array_equal(labels[t], NUSCENES_EXPECTED[truth[("scene-0001", 2 - t)][0]])

    def test_camera_and_no_mask(self, tmp_path):
        truth = write_nuscenes(tmp_path, {"scene-0001": 1})
        scene = open_reader(tmp_path, "occ3d-nuscenes").scenes()[0]
        _, valid = open_reader(tmp_path, "occ3d-nuscenes", mask="camera").read_frames(scene, 0, 1)
        np.testing.assert_array_equal(valid[0], truth[("scene-0001", 0)][2])
        assert open_reader(tmp_path, "occ3d-nuscenes", mask="none").read_frames(scene, 0, 1)[1] is None

    def test_missing_key(self, tmp_path):
        write_nuscenes(tmp_path, {"scene-0001": 1})
        path = next((tmp_path / "gts").rglob("labels.npz"))
        np.savez_compressed(path, semantics=np.zeros(OCC3D_SHAPE, np.uint8))
        reader = open_reader(tmp_path, "occ3d-nuscenes")
        with pytest.raises(DataError, match="missing key 'mask_lidar'"):
            reader.read_frames(reader.scenes()[0], 0, 1)

    def test_wrong_shape_and_unknown_class(self, tmp_path):
        write_nuscenes(tmp_path, {"scene-0001": 1})
        path = next((tmp_path / "gts").rglob("labels.npz"))
        reader = open_reader(tmp_path, "occ3d-nuscenes", mask="none")
        np.savez_compressed(path, semantics=np.zeros((200, 200, 8), np.uint8))
        with pytest.raises(
            DataError, match=r"semantics has shape \(200, 200, 8\), expected \(200, 200, 16\)"
        ):
            reader.read_frames(reader.scenes()[0], 0, 1)
        bad = np.zeros(OCC3D_SHAPE, np.uint8)
        bad[0, 0, 0] = 18
        np.savez_compressed(path, semantics=bad)
        with pytest.raises(DataError, match="class id 18 is outside"):
            reader.read_frames(reader.scenes()[0], 0, 1)

    def test_truncated_npz(self, tmp_path):
        write_nuscenes(tmp_path, {"scene-0001": 1})
        path = next((tmp_path / "gts").rglob("labels.npz"))
        path.write_bytes(path.read_bytes()[:100])
        reader = open_reader(tmp_path, "occ3d-nuscenes")
        with pytest.raises(DataError, match=r"labels\.npz: not a readable \.npz file"):
            reader.read_frames(reader.scenes()[0], 0, 1)

    def test_nan_pose_and_missing_annotations(self, tmp_path):
        write_nuscenes(tmp_path, {"scene-0001": 2})
        path = tmp_path / "annotations.json"
        data = json.loads(path.read_text())
        token = next(iter(data["scene_infos"]["scene-0001"]))
        data["scene_infos"]["scene-0001"][token]["ego_pose"]["translation"][0] = float("nan")
        path.write_text(json.dumps(data))
        with pytest.raises(DataError, match="NaN"):
            open_reader(tmp_path, "occ3d-nuscenes")
        path.unlink()
        with pytest.raises(DataError, match=r"annotations\.json: annotation file does not exist"):
            open_reader(tmp_path, "occ3d-nuscenes")


class TestOcc3DWaymo:
    @pytest.mark.parametrize("mask_dtype", [bool, np.uint8])
    def test_reads_the_published_layout(self, tmp_path, mask_dtype):
        """0.1 m and 0.4 m files side by side, no poses, masks as booleans or 0/1 bytes."""
        raw = write_waymo(
            tmp_path, frames=2, free_id=23, ego2global=False, mask_dtype=mask_dtype, fine_files=True
        )
        reader = open_reader(tmp_path, "occ3d-waymo", mask="camera")
        scene = reader.scenes()[0]
        assert scene.num_frames == 2 and reader.read_poses(scene) is None
        labels, valid = reader.read_frames(scene, 0, 2)
        expected = np.where(raw == 23, COMMON_IDS["free"], WAYMO_EXPECTED[np.minimum(raw, 14)])
        np.testing.assert_array_equal(labels, expected)
        with np.load(tmp_path / "training" / "000" / "001_04.npz") as frame:
            np.testing.assert_array_equal(
                valid[1], frame["final_voxel_state"].astype(bool) & frame["infov"].astype(bool)
            )

    @pytest.mark.parametrize("free_id", [15, 23])
    def test_detects_free_id(self, tmp_path, free_id):
        raw = write_waymo(tmp_path, frames=2, free_id=free_id)
        reader = open_reader(tmp_path, "occ3d-waymo", mask="none")
        labels, valid = reader.read_frames(reader.scenes()[0], 0, 2)
        assert reader.free_id == free_id and valid is None
        assert free_id in WAYMO_FREE_IDS
        expected = np.where(raw == free_id, COMMON_IDS["free"], WAYMO_EXPECTED[np.minimum(raw, 14)])
        np.testing.assert_array_equal(labels, expected)

    def test_masks_and_poses(self, tmp_path):
        write_waymo(tmp_path, frames=2)
        frame = np.load(tmp_path / "training/000/001_04.npz")
        lidar = open_reader(tmp_path, "occ3d-waymo")
        scene = lidar.scenes()[0]
        np.testing.assert_array_equal(lidar.read_frames(scene, 1, 2)[1][0], frame["origin_voxel_state"])
        camera = open_reader(tmp_path, "occ3d-waymo", mask="camera").read_frames(scene, 1, 2)[1][0]
        np.testing.assert_array_equal(camera, frame["final_voxel_state"] & frame["infov"])
        np.testing.assert_allclose(lidar.read_poses(scene)[1], yaw_pose(1.0, 0.0, 0.0))

    def test_mixed_free_ids(self, tmp_path):
        write_waymo(tmp_path, frames=2, free_id=23)
        path = tmp_path / "training/000/001_04.npz"
        arrays = dict(np.load(path))
        arrays["voxel_label"][arrays["voxel_label"] == 23] = 15
        np.savez_compressed(path, **arrays)
        reader = open_reader(tmp_path, "occ3d-waymo")
        with pytest.raises(
            DataError, match=r"001_04\.npz: free id 15 differs from 23 found in .*000_04\.npz"
        ):
            reader.read_frames(reader.scenes()[0], 0, 2)

    def test_no_poses_as_published_then_poses_folder(self, tmp_path):
        write_waymo(tmp_path / "data", frames=2, ego2global=False)
        reader = open_reader(tmp_path / "data", "occ3d-waymo")
        assert reader.read_poses(reader.scenes()[0]) is None
        poses_dir = tmp_path / "poses" / "training" / "000"
        poses_dir.mkdir(parents=True)
        (poses_dir / "poses.txt").write_text("1 0 0 0 0 1 0 0 0 0 1 0\n1 0 0 3 0 1 0 0 0 0 1 0\n")
        reader = open_reader(tmp_path / "data", "occ3d-waymo", poses=tmp_path / "poses")
        assert reader.read_poses(reader.scenes()[0])[1, 0, 3] == 3.0

    def test_unknown_class(self, tmp_path):
        write_waymo(tmp_path, frames=1, free_id=23)
        path = tmp_path / "training/000/000_04.npz"
        arrays = dict(np.load(path))
        arrays["voxel_label"][0, 0, 0] = 17
        np.savez_compressed(path, **arrays)
        reader = open_reader(tmp_path, "occ3d-waymo")
        with pytest.raises(DataError, match=r"000_04\.npz: class id 17 is outside Occ3D-Waymo"):
            reader.read_frames(reader.scenes()[0], 0, 1)

    def test_empty_root(self, tmp_path):
        with pytest.raises(DataError, match="no scene folders"):
            open_reader(tmp_path, "occ3d-waymo")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (np.array([1, -255], np.int16), r"labels\.npz: class id -255 is outside the test classes\."),
        (np.array([1, 256 + 1], np.int32), r"labels\.npz: class id 257 is outside the test classes\."),
        (np.array([1.0, 2.5]), r"labels\.npz: class ids are float64, not integers\."),
        (np.array([True, False]), r"labels\.npz: class ids are bool, not integers\."),
    ],
)
def test_remap_refuses_what_uint8_would_wrap_or_truncate(raw, message):
    table = lookup_table(np.array([0, 1, 2], np.uint8))
    with pytest.raises(DataError, match=message):
        remap(raw, table, Path("labels.npz"), "the test classes")
    np.testing.assert_array_equal(remap(np.array([2, 0], np.int64), table, Path("x"), "v"), [2, 0])


def test_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="unknown format 'kitti'"):
        open_reader(tmp_path, "kitti")
