"""The field's forecasting protocol (`evaluation.forecast_protocol`): its metric against a numpy reference,
the resampling to 2 Hz, the pairs it cuts, its baselines on hand-built worlds, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dynamiccity.data import GridSpec, Scene, write_synthtown
from dynamiccity.data.errors import DataError
from dynamiccity.evaluation.forecast_protocol import eval_forecast_protocol
from dynamiccity.metrics.forecast import field_scores
from dynamiccity.protocols import ABSENT_RULES, PROTOCOLS, PUBLISHED, ForecastProtocol
from dynamiccity.runs.datasets import DataSpec
from tests.conftest import cli, write_nuscenes, write_town, yaw_pose

OCCWORLD = PROTOCOLS["occworld"]
STRIP = GridSpec((16, 4, 2), (-8.0, -2.0, -1.0, 8.0, 2.0, 1.0), hz=10.0)  # 1 m voxels


class Reference:
    """The field's per-time mIoU and IoU written from OccWorld's `multi_step_MeanIou` description with
    numpy: counts per class summed over pairs, IoU 1 for a class the truth lacks (`absent="one"`), or
    classes of IoU 0 or undefined left out (`absent="dropped"`); free is `free`, every other id is scored."""

    def __init__(self, classes: list[int], free: int, absent: str = "one") -> None:
        self.classes, self.free, self.absent = classes, free, absent
        self.counts = {}  # (frame, class) -> [correct, seen, positive]

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        for f, (p, t) in enumerate(zip(pred, truth, strict=True)):
            for c in [*self.classes, "occupied"]:
                pc, tc = (p != self.free, t != self.free) if c == "occupied" else (p == c, t == c)
                counts = self.counts.setdefault((f, c), [0, 0, 0])
                counts[0] += int((pc & tc).sum())
                counts[1] += int(tc.sum())
                counts[2] += int(pc.sum())

    def iou(self, f: int, c) -> float:
        correct, seen, positive = self.counts[(f, c)]
        if self.absent == "one" and seen == 0:
            return 1.0
        union = seen + positive - correct
        iou = correct / union if union else np.nan
        return np.nan if self.absent == "dropped" and iou == 0 else iou

    def miou(self, f: int) -> float:
        return 100 * np.nanmean([self.iou(f, c) for c in self.classes])

    def occupied(self, f: int) -> float:
        return 100 * self.iou(f, "occupied")


@pytest.mark.parametrize("absent", ABSENT_RULES)
def test_field_scores_match_the_numpy_reference(absent):
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, size=(1, 6, 6, 2))
    truth[truth == 3] = 4  # class 3 absent from the truth
    pred = np.where(rng.random(truth.shape) < 0.6, truth, rng.integers(0, 5, size=truth.shape))
    pred[pred == 2] = 1  # class 2 never predicted: IoU 0
    matrix = torch.bincount(torch.from_numpy(truth * 5 + pred).reshape(-1), minlength=25).view(5, 5)
    reference = Reference([1, 2, 3, 4], free=0, absent=absent)
    reference.add(pred, truth)
    miou, iou = field_scores(matrix, absent)
    assert miou == pytest.approx(reference.miou(0))
    assert iou == pytest.approx(reference.occupied(0))


def test_protocol_settings_are_checked():
    assert OCCWORLD.history_s == 2.0 and OCCWORLD.future_s == 3.0 and OCCWORLD.report_frames == (1, 3, 5)
    with pytest.raises(ValueError, match="pairs must be one of"):
        ForecastProtocol("x", 5, 6, 2.0, (1.0,), "every", "one", "")
    with pytest.raises(ValueError, match="not one of its future frames"):
        ForecastProtocol("x", 5, 6, 2.0, (1.25,), "sliding", "one", "")
    assert {p.protocol for p in PUBLISHED} <= set(PROTOCOLS)


def strip_scene(root, frames: int, speed: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A SynthTown root of one scene at 10 Hz: a static random world that the ego drives along x at `speed`
    m per frame; the frames the 2 Hz protocol keeps (every 5th) hold the world exactly (1 m voxels), those
    it skips hold class 1 everywhere. Returns the kept labels and poses."""
    rng = np.random.default_rng(seed)
    world = rng.integers(0, 12, size=(STRIP.shape[0] + round(speed * frames) + 1, *STRIP.shape[1:]))
    labels = np.ones((frames, *STRIP.shape), dtype=np.uint8)
    for t in range(0, frames, 5):
        shift = round(speed * t)
        labels[t] = world[shift : shift + STRIP.shape[0]]
    poses = np.stack([yaw_pose(speed * t, 0.0, 0.0) for t in range(frames)])
    write_synthtown(root, [(Scene(labels, poses, name="strip"), "val")], STRIP)
    return labels[::5], poses[::5]


def test_copy_last_is_perfect_for_a_static_ego_in_a_static_world(tmp_path):
    strip_scene(tmp_path / "town", frames=56, speed=0.0)
    result = eval_forecast_protocol(OCCWORLD, DataSpec(str(tmp_path / "town"), "synthtown"))
    assert (result["step"], result["pairs"]) == (5, 2)  # 12 kept frames: pairs from kept frames 0 and 1
    for name in ("copy_last", "ego_copy_last", "aligned_copy"):
        scores = result["forecasters"][name]
        assert scores["miou_per_frame"] == [100.0] * 6 and scores["iou_per_frame"] == [100.0] * 6


def test_moving_ego_baselines_match_the_reference_and_compensation_wins(tmp_path):
    kept, _ = strip_scene(tmp_path / "town", frames=61, speed=0.2)  # 1 voxel per kept frame
    result = eval_forecast_protocol(OCCWORLD, DataSpec(str(tmp_path / "town"), "synthtown"))
    assert result["pairs"] == 3  # 13 kept frames, 11 a pair
    copy, moved = Reference(list(range(1, 12)), free=0), Reference(list(range(1, 12)), free=0)
    for start in range(3):
        last, future = kept[start + 4], kept[start + 5 : start + 11]
        copy.add(np.repeat(last[None], 6, axis=0), future)
        shifted = np.zeros_like(future)  # the last frame seen f + 1 voxels further on; free beyond the grid
        for f in range(6):
            shifted[f, : 16 - (f + 1)] = last[f + 1 :]
        moved.add(shifted, future)
    scores = result["forecasters"]
    for name, reference in (("copy_last", copy), ("ego_copy_last", moved)):
        assert scores[name]["miou_per_frame"] == pytest.approx([reference.miou(f) for f in range(6)])
        assert scores[name]["iou_per_frame"] == pytest.approx([reference.occupied(f) for f in range(6)])
    assert scores["copy_last"]["miou"]["1s"] == pytest.approx(copy.miou(1))
    assert scores["ego_copy_last"]["miou"]["3s"] == pytest.approx(moved.miou(5))
    compensated, copied = (scores[name]["miou_per_frame"] for name in ("ego_copy_last", "copy_last"))
    assert all(a > b for a, b in zip(compensated, copied, strict=True))


@pytest.mark.parametrize("hz", [3.0, 1.0])
def test_a_rate_that_is_not_a_multiple_is_refused_in_one_line(tmp_path, hz):
    grid = GridSpec(STRIP.shape, STRIP.extent, hz=hz)
    labels = np.zeros((12, *STRIP.shape), dtype=np.uint8)
    poses = np.stack([np.eye(4)] * 12)
    write_synthtown(tmp_path / "town", [(Scene(labels, poses, name="a"), "val")], grid)
    with pytest.raises(DataError, match="whole multiple") as error:
        eval_forecast_protocol(OCCWORLD, DataSpec(str(tmp_path / "town"), "synthtown"))
    assert "\n" not in str(error.value)


def test_occ3d_nuscenes_copy_last_matches_the_raw_ids_reference(tmp_path):
    truth = write_nuscenes(tmp_path / "occ", {"scene-0001": 12})
    result = eval_forecast_protocol(OCCWORLD, DataSpec(str(tmp_path / "occ"), "occ3d-nuscenes"))
    assert (result["step"], result["pairs"], len(result["classes_scored"])) == (1, 2, 17)
    reference = Reference(list(range(17)), free=17)  # OccWorld: unique_label 0..16, free 17, no mask
    frames = np.stack([truth[("scene-0001", t)][0] for t in range(12)])
    for start in range(2):
        reference.add(np.repeat(frames[start + 4][None], 6, axis=0), frames[start + 5 : start + 11])
    scores = result["forecasters"]["copy_last"]
    assert scores["miou_per_frame"] == pytest.approx([reference.miou(f) for f in range(6)])
    assert scores["iou_per_frame"] == pytest.approx([reference.occupied(f) for f in range(6)])
    dome = eval_forecast_protocol(PROTOCOLS["dome"], DataSpec(str(tmp_path / "occ"), "occ3d-nuscenes"))
    assert dome["pairs"] == 1  # one pair per scene, from its first frame


def test_cli_writes_the_protocol_json(tmp_path):
    write_town(tmp_path / "town", {"a": ("train", 51), "b": ("val", 40)})
    out = tmp_path / "forecast.json"
    cli("eval-forecast", "--protocol", "occworld", "--data", tmp_path / "town", "--format", "synthtown",
        "--json", out)  # fmt: skip
    result = json.loads(out.read_text())
    assert result["pairs"] == 1 and result["scenes"] == 1  # scene b has 8 frames at 2 Hz, a pair needs 11
    assert result["protocol"]["name"] == "occworld" and result["protocol"]["history_frames"] == 5
    for scores in result["forecasters"].values():
        assert set(scores["miou"]) == {"1s", "2s", "3s"} and len(scores["iou_per_frame"]) == 6
    assert not result["forecasters"]["copy_last"]["true_future_ego_path"]
    occworld = next(p for p in result["published"] if p["method"] == "OccWorld")
    assert occworld["miou"] == [25.78, 15.14, 10.51] and not occworld["true_future_ego_path"]
    with pytest.raises(SystemExit):
        cli("eval-forecast", "--protocol", "occworld", "--data", tmp_path / "town", "--dit", tmp_path)
