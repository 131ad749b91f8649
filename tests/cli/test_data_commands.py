"""The data commands end to end: synth, inspect, render, and one-line errors with a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from dynamiccity.data import open_reader
from tests.cli import run
from tests.conftest import write_carlasc, write_nuscenes, write_waymo
from tests.data.test_bad_input import CASES, carlasc_duplicated_frame
from tests.data.test_readers import (
    CARLASC_EXPECTED,
    NUSCENES_CLASSES,
    NUSCENES_EXPECTED,
    WAYMO_CLASSES,
    WAYMO_EXPECTED,
)

COMMON_NAMES = ["free", "building", "barrier", "other", "pedestrian", "pole", "road", "ground", "sidewalk",
                "vegetation", "vehicle", "bicycle"]  # fmt: skip


def counts_by_name(ids: np.ndarray) -> dict[str, int]:
    """Voxels of each common class, by name, counted with numpy alone."""
    return {
        name: int(n) for name, n in zip(COMMON_NAMES, np.bincount(ids.ravel(), minlength=12), strict=True)
    }


def test_help_lists_commands():
    result = subprocess.run(
        [sys.executable, "-m", "dynamiccity", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("synth", "inspect", "render"):
        assert command in result.stdout


def test_inspect_carlasc_json(tmp_path, capsys):
    raw, counts, _ = write_carlasc(tmp_path, frames=2)
    code, out, _ = run(["inspect", str(tmp_path), "--format", "carlasc", "--json"], capsys)
    assert code == 0
    stats = json.loads(out)
    assert (stats["scenes"], stats["frames"], stats["grid"]) == (1, 2, [128, 128, 8])
    assert stats["class_counts"] == counts_by_name(CARLASC_EXPECTED[raw])
    assert stats["class_counts"]["bicycle"] == 0
    assert stats["valid_fraction"] == pytest.approx((counts > 0).mean())
    assert "free_id" not in stats


def test_inspect_reads_occ3d_nuscenes_as_documented(tmp_path, capsys):
    """The Occ3D README's layout: string timestamps, prev/next tokens, 32-hex tokens; exact class counts."""
    truth = write_nuscenes(tmp_path, {"scene-0001": 3, "scene-0002": 2})
    code, out, err = run(["inspect", str(tmp_path), "--format", "occ3d-nuscenes", "--json"], capsys)
    assert code == 0, err
    stats = json.loads(out)
    assert (stats["scenes"], stats["frames"], stats["grid"]) == (2, 5, [200, 200, 16])
    semantics = np.stack([frame[0] for frame in truth.values()])
    assert stats["class_counts"] == counts_by_name(NUSCENES_EXPECTED[semantics])
    code, out, _ = run(
        ["inspect", str(tmp_path), "--format", "occ3d-nuscenes", "--json", "--classes", "native"], capsys
    )
    native = json.loads(out)["class_counts"]
    raw = np.bincount(semantics.ravel(), minlength=18)
    assert native["free"] == raw[17]
    assert [native[NUSCENES_CLASSES[i][0]] for i in range(17)] == raw[:17].tolist()


def test_inspect_waymo_reports_free_id(tmp_path, capsys):
    write_waymo(tmp_path, frames=1, free_id=15)
    code, out, _ = run(
        ["inspect", str(tmp_path), "--format", "occ3d-waymo", "--json", "--mask", "none"], capsys
    )
    assert code == 0 and json.loads(out)["free_id"] == 15
    code, out, _ = run(["inspect", str(tmp_path), "--format", "occ3d-waymo"], capsys)
    assert code == 0 and "free id        15 (detected)" in out


def test_inspect_counts_the_native_classes(tmp_path, capsys):
    """The published layout (0.1 m files beside the 0.4 m ones, no poses): exact counts in both class sets."""
    raw = write_waymo(tmp_path, frames=2, free_id=23, ego2global=False, fine_files=True)
    waymo = ["inspect", str(tmp_path), "--format", "occ3d-waymo", "--json", "--mask", "none"]
    code, out, _ = run([*waymo, "--classes", "native"], capsys)
    native = json.loads(out)["class_counts"]
    assert code == 0 and list(native)[:3] == ["free", "general_object", "vehicle"] and len(native) == 16
    assert native["free"] == (raw == 23).sum()
    assert [native[WAYMO_CLASSES[i][0]] for i in range(15)] == np.bincount(
        raw[raw != 23], minlength=15
    ).tolist()
    common = json.loads(run(waymo, capsys)[1])["class_counts"]
    assert common == counts_by_name(np.where(raw == 23, 0, WAYMO_EXPECTED[np.minimum(raw, 14)]))


def test_inspect_reports_where_poses_come_from(tmp_path, capsys):
    """Occ3D-Waymo as published has no poses: inspect works and says so; with --poses it names the folder."""
    write_waymo(tmp_path / "waymo", frames=2, ego2global=False)
    waymo = ["inspect", str(tmp_path / "waymo"), "--format", "occ3d-waymo", "--mask", "none"]
    code, out, err = run([*waymo, "--json"], capsys)
    assert (code, err) == (0, "") and json.loads(out)["poses"] == "none"
    code, out, _ = run(waymo, capsys)
    assert code == 0 and "\nposes          none\n" in out
    scene_poses = tmp_path / "poses" / "training" / "000"
    scene_poses.mkdir(parents=True)
    (scene_poses / "poses.txt").write_text("1 0 0 0 0 1 0 0 0 0 1 0\n" * 2)
    code, out, _ = run([*waymo, "--poses", str(tmp_path / "poses"), "--json"], capsys)
    assert code == 0 and json.loads(out)["poses"] == f"poses.txt files under {tmp_path / 'poses'}"
    write_carlasc(tmp_path / "carla", frames=1)
    code, out, _ = run(["inspect", str(tmp_path / "carla"), "--format", "carlasc"], capsys)
    assert code == 0 and "\nposes          poses.txt of each sequence\n" in out


def test_bad_input_is_one_line_error(tmp_path, capsys):
    write_carlasc(tmp_path, frames=1)
    path = tmp_path / "Cartesian/Train/Town01_Light/cartesian/evaluation/000000.label"
    path.write_bytes(b"\0" * 10)
    code, out, err = run(["inspect", str(tmp_path), "--format", "carlasc"], capsys)
    assert code == 1 and out == ""
    assert err.strip().count("\n") == 0 and "000000.label: 10 bytes, expected 524288" in err
    code, _, err = run(["inspect", str(tmp_path / "missing"), "--format", "carlasc"], capsys)
    assert code == 1 and "does not exist" in err


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_inspect_of_a_broken_dataset_is_one_line_naming_the_file(case, tmp_path, capsys):
    """The bad-input corpus of tests/data/test_bad_input.py through the command line."""
    root, format, offending = case(tmp_path)
    code, out, err = run(["inspect", str(root), "--format", format], capsys)
    assert code == 1 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: ") and str(offending) in line


def test_inspect_of_a_broken_dataset_in_a_process(tmp_path):
    root, format, offending = carlasc_duplicated_frame(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "dynamiccity", "inspect", str(root), "--format", format],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert str(offending) in result.stderr


def test_synth_inspect_render(tmp_path, capsys):
    out_dir = tmp_path / "town"
    code, *_ = run(
        ["synth", str(out_dir), "--scenes", "2", "--frames", "4", "--grid", "32", "32", "4"], capsys
    )
    assert code == 0
    code, out, _ = run(["inspect", str(out_dir), "--format", "synthtown", "--json"], capsys)
    stats = json.loads(out)
    assert (stats["scenes"], stats["frames"], stats["grid"]) == (2, 8, [32, 32, 4])
    assert stats["class_counts"]["road"] > 0
    gif = tmp_path / "scene.gif"
    code, *_ = run(["render", str(out_dir), "--out", str(gif), "--view", "bev", "--frames", "1:3"], capsys)
    assert code == 0 and iio.imread(gif, index=None).shape[0] == 2
    png = tmp_path / "frame.png"
    code, *_ = run(["render", str(out_dir / "scene_0001"), "--out", str(png), "--frames", "0"], capsys)
    assert code == 0 and iio.imread(png).ndim == 3


def test_synth_is_deterministic_and_writes_carlasc(tmp_path, capsys):
    for name in ("a", "b"):
        run(["synth", str(tmp_path / name), "--scenes", "1", "--frames", "2", "--seed", "7"], capsys)
    a, b = (open_reader(tmp_path / n, "synthtown") for n in ("a", "b"))
    np.testing.assert_array_equal(
        a.read_frames(a.scenes()[0], 0, 2)[0], b.read_frames(b.scenes()[0], 0, 2)[0]
    )
    code, *_ = run(
        [
            "synth",
            str(tmp_path / "c"),
            "--scenes",
            "1",
            "--frames",
            "2",
            "--seed",
            "7",
            "--format",
            "carlasc",
        ],
        capsys,
    )
    assert code == 0
    carla = open_reader(tmp_path / "c", "carlasc")
    labels, valid = carla.read_frames(carla.scenes()[0], 0, 2)
    expected = a.read_frames(a.scenes()[0], 0, 2)[0]
    np.testing.assert_array_equal(labels, np.where(expected == 11, 10, expected))  # bicycle -> vehicle
    assert valid.all()
    np.testing.assert_allclose(carla.read_poses(carla.scenes()[0]), a.read_poses(a.scenes()[0]), atol=1e-6)


def test_render_rejects_bad_options(tmp_path, capsys):
    write_carlasc(tmp_path, frames=1)
    code, _, err = run(
        ["render", str(tmp_path), "--format", "carlasc", "--out", "x.gif", "--mask", "camera"], capsys
    )
    assert code != 0
    code, _, err = run(
        ["render", str(tmp_path), "--format", "carlasc", "--out", str(tmp_path / "x.bmp")], capsys
    )
    assert code == 1 and "x.bmp" in err


def test_set_overrides_parse_numbers_and_lists():
    from dynamiccity.cli.vae_commands import parse_overrides

    assert parse_overrides(["lr=2e-3", "downsample=[2,2,2,1]", "encoder=avgpool", "steps=5"]) == {
        "lr": 0.002,
        "downsample": [2, 2, 2, 1],
        "encoder": "avgpool",
        "steps": 5,
    }


def test_synth_extent_sets_the_voxel_size(tmp_path, capsys):
    """Half CarlaSC's extent on a 16x16x4 grid: voxels half the size of the default extent's."""
    default, half = tmp_path / "default", tmp_path / "half"
    common = ["--scenes", "1", "--frames", "3", "--seed", "11", "--grid", "16", "16", "4"]
    assert run(["synth", str(default), *common], capsys)[0] == 0
    extent = ["--extent", "-12.8", "-12.8", "-2", "12.8", "12.8", "1"]
    assert run(["synth", str(half), *common, *extent], capsys)[0] == 0
    a, b = (open_reader(p, "synthtown") for p in (default, half))
    assert b.grid.extent == (-12.8, -12.8, -2.0, 12.8, 12.8, 1.0)
    assert b.grid.voxel_size == pytest.approx((1.6, 1.6, 0.75))
    assert a.grid.voxel_size == pytest.approx((3.2, 3.2, 0.75))
    labels = b.read_frames(b.scenes()[0], 0, 3)[0]
    assert labels.shape == (3, 16, 16, 4) and (labels > 0).any()


def test_synth_rejects_an_extent_without_the_ego(tmp_path, capsys):
    code, _, err = run(["synth", str(tmp_path / "x"), "--extent", "1", "-5", "-2", "9", "5", "1"], capsys)
    assert code != 0 and "ego" in err
    assert not (tmp_path / "x").exists()
