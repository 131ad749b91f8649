"""`dynamiccity eval-forecast --protocol NAME`: occupancy forecasting scored as the field reports it.

OccWorld, DOME and I2-World compare forecasts on Occ3D-nuScenes (2 Hz keyframes) from 2 s of history over
3 s of future, and report mIoU and IoU of the future frame at 1, 2 and 3 s. A `ForecastProtocol` holds
those settings as each owner's evaluation code has them (the facts and their files are in `PROTOCOLS`);
`eval_forecast_protocol` runs one on any dataset with ego poses: it keeps every k-th frame so that the data
runs at the protocol's rate (SynthTown's 10 Hz: every 5th frame), cuts (history, future) pairs and scores
the baseline forecasters of `metrics.forecast` at each future frame with the field's metric
(`metrics.forecast.field_scores`).

Our DiT is not among the forecasters: it forecasts a window of T frames at its training rate from the
window of T frames before it, and no T fits a protocol whose history (5 frames) is shorter than its future
(6 frames); nor does the shipped SynthTown DiT's window (8 frames at 10 Hz, 0.8 s) reach 3 s ahead without
rolling it forward window by window, which is not built.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from dynamiccity.data import open_reader, reader_accepts
from dynamiccity.data.classes import ClassKind
from dynamiccity.data.errors import DataError
from dynamiccity.data.reader import MaskKind
from dynamiccity.data.windows import SPLITS, WindowDataset
from dynamiccity.metrics.forecast import (
    ABSENT_RULES,
    AbsentRule,
    PerFrameScores,
    aligned_copy,
    copy_last,
    ego_copy_last,
    field_scores,
)
from dynamiccity.pipeline.datasets import DataSpec

PairRule = Literal["sliding", "first"]
PAIR_RULES: tuple[str, ...] = PairRule.__args__
"""Which (history, future) pairs a scene gives: one from every frame at the protocol's rate ("sliding"), or
one from its first frame only ("first")."""


@dataclass(frozen=True)
class ForecastProtocol:
    """How a forecasting paper cuts and scores its forecasts.

    history_frames: frames given, the current one included (5 at 2 Hz: -2.0 .. 0 s). future_frames: frames
    forecast (6 at 2 Hz: 0.5 .. 3.0 s). hz: the rate both run at. report_at_s: the future times reported,
    each the score of the one frame at that time (not an average up to it). pairs: `PAIR_RULES`. absent:
    the mIoU's rule for classes the truth lacks (`metrics.forecast.ABSENT_RULES`). mask: which voxels are
    scored ("none": all). classes: the class set read ("native": the dataset's own, e.g. Occ3D-nuScenes' 17
    and free; the mIoU averages all but free). source: the owner's files these settings come from.
    """

    name: str
    history_frames: int
    future_frames: int
    hz: float
    report_at_s: tuple[float, ...]
    pairs: PairRule
    absent: AbsentRule
    source: str
    mask: MaskKind = "none"
    classes: ClassKind = "native"

    def __post_init__(self) -> None:
        if self.history_frames < 1 or self.future_frames < 1 or self.hz <= 0:
            raise ValueError(f"protocol {self.name}: history and future need >= 1 frame and a rate > 0.")
        if self.pairs not in PAIR_RULES:
            raise ValueError(f"pairs must be one of {', '.join(PAIR_RULES)}, got {self.pairs!r}.")
        if self.absent not in ABSENT_RULES:
            raise ValueError(f"absent must be one of {', '.join(ABSENT_RULES)}, got {self.absent!r}.")
        for t in self.report_at_s:
            frame = t * self.hz
            if not (np.isclose(frame, round(frame)) and 1 <= round(frame) <= self.future_frames):
                raise ValueError(f"protocol {self.name}: {t} s is not one of its future frames.")

    @property
    def frames(self) -> int:
        """Frames of one (history, future) pair at the protocol's rate."""
        return self.history_frames + self.future_frames

    @property
    def history_s(self) -> float:
        return (self.history_frames - 1) / self.hz

    @property
    def future_s(self) -> float:
        return self.future_frames / self.hz

    @property
    def report_frames(self) -> tuple[int, ...]:
        """Index into the future frames of each reported time (1 s at 2 Hz: 1, the second future frame)."""
        return tuple(round(t * self.hz) - 1 for t in self.report_at_s)

    def step(self, data_hz: float, root: str) -> int:
        """Keep every `step`-th frame of data recorded at `data_hz` to run at the protocol's rate."""
        step = data_hz / self.hz
        if step < 1 or not np.isclose(step, round(step)):
            raise DataError(
                f"{root}: its {data_hz:g} Hz cannot be resampled to the {self.name} protocol's {self.hz:g} Hz "
                "by keeping every k-th frame; the data's rate must be a whole multiple of the protocol's."
            )
        return round(step)


FIELD_TIMES = (1.0, 2.0, 3.0)
PROTOCOLS: dict[str, ForecastProtocol] = {
    "occworld": ForecastProtocol(
        "occworld", 5, 6, 2.0, FIELD_TIMES, "sliding", "one",
        "wzzheng/OccWorld: config/occworld.py (start_frame 0, mid_frame 5, end_frame 11, unique_label 0..16), "
        "eval_metric_stp3.py (free 17 -> IoU, reports val_miou[1], [3], [5]), utils/metric_util.py "
        "(multi_step_MeanIou), dataset/dataset.py (nuScenesSceneDatasetLidarTraverse, every start)",
    ),
    "dome": ForecastProtocol(
        "dome", 4, 6, 2.0, FIELD_TIMES, "first", "one",
        "gusongen/DOME: config/train_dome.py (mid_frame 4, end_frame 10, val times=1, test_mode), "
        "dataset/dataset.py (test_mode: idx = test_index_offset = 0), tools/eval_metric.py, "
        "utils/metric_util.py",
    ),
    "i2world": ForecastProtocol(
        "i2world", 5, 6, 2.0, FIELD_TIMES, "sliding", "dropped",
        "lzzzzzm/II-World: configs/world_model/ii_generate_world.py (4 previous + current, 6 future, "
        "4519 val samples), mmdet3d/datasets/nuscenes_world_dataset.py (evaluate_forecasting_miou), "
        "mmdet3d/datasets/occ_metrics.py (Metric_mIoU, no lidar or camera mask)",
    ),
}  # fmt: skip
PROTOCOL_NAMES: tuple[str, ...] = tuple(PROTOCOLS)


@dataclass(frozen=True)
class PublishedScore:
    """A published forecast on Occ3D-nuScenes: mIoU and IoU (percent) at 1, 2 and 3 s (IoU None where we
    have not checked it against its source), the protocol it was scored under, and whether the model was
    given the true future ego path."""

    method: str
    miou: tuple[float, float, float]
    iou: tuple[float, float, float] | None
    protocol: str
    true_future_ego_path: bool
    conditioning: str
    source: str


PUBLISHED: tuple[PublishedScore, ...] = (
    PublishedScore(
        "OccWorld", (25.78, 15.14, 10.51), (34.63, 25.07, 20.18), "occworld", False,
        "predicts its own future ego path; given the history's per-frame next-step displacement (the last "
        "one is the true step to the first future frame) and the true driving mode of each future frame",
        "arXiv:2311.16038; wzzheng/OccWorld logs/evaluate_for_pretrain_model/"
        "eval_stp3_0_5_11_20240313_173235.log (mIoU 25.78 / 15.15 / 10.51 at frames 1, 3, 5)",
    ),
    PublishedScore(
        "DOME", (35.11, 25.89, 20.29), None, "dome", True,
        "pose condition from the true ego poses of all 10 frames, the future included",
        "arXiv:2410.10429; gusongen/DOME tools/eval_metric.py, dataset/dataset.py (rel_poses), "
        "model/dome.py (_get_pose_feature)",
    ),
    PublishedScore(
        "I2-World", (47.62, 38.58, 32.98), (54.29, 49.43, 45.69), "i2world", True,
        "task_mode 'generate': the true current-to-future ego transformation (targ_curr_to_futu_info)",
        "ICCV 2025; lzzzzzm/II-World configs/world_model/ii_generate_world.py (its evaluation log), "
        "mmdet3d/models/ii_world/world_model/ii_former/ii_former.py",
    ),
)  # fmt: skip

FORECASTERS: dict[str, bool] = {"copy_last": False, "ego_copy_last": True, "aligned_copy": True}
"""The baselines scored, and whether each is given the true future ego path (`metrics.forecast`)."""


def eval_forecast_protocol(
    protocol: ForecastProtocol, data: DataSpec, split: str = "all", max_pairs: int | None = None
) -> dict:
    """Scores of the baseline forecasters under `protocol` on the scenes of `data` (with ego poses).

    The protocol's class set and mask are read (its settings win over `data.options`); the data is kept
    every `protocol.step` frames, and pairs are cut at that rate (`protocol.pairs`), at most `max_pairs`.
    Returns {"protocol": settings, "pairs": n, "forecasters": {name: {"miou": {"1s": %}, "iou": ...,
    "miou_per_frame": [F], "iou_per_frame": [F], "true_future_ego_path": bool}}, "published": [...], ...}.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}.")
    windows, step = _protocol_windows(protocol, data, split)
    starts = [(scene, start) for scene, start in windows.index if protocol.pairs == "sliding" or start == 0]
    starts = starts[:max_pairs]
    if not starts:
        raise DataError(
            f"{data.path}: no scene has the {protocol.frames} frames at {protocol.hz:g} Hz "
            f"({protocol.history_s:g} s of history and {protocol.future_s:g} s of future) a pair needs."
        )
    classes = windows.reader.classes
    scores = {name: PerFrameScores(protocol.future_frames, classes.num_classes) for name in FORECASTERS}
    for scene in sorted({scene for scene, _ in starts}):
        labels, poses = _resampled(windows, scene, step)
        for start in (start // step for s, start in starts if s == scene):
            pair = labels[start : start + protocol.frames], poses[start : start + protocol.frames]
            _score_pair(scores, pair, protocol.history_frames, windows.grid.extent)
    return {
        "protocol": {**asdict(protocol), "history_s": protocol.history_s, "future_s": protocol.future_s},
        "data": data.path,
        "format": data.format,
        "split": split,
        "data_hz": windows.grid.hz,
        "step": step,
        "scenes": len({scene for scene, _ in starts}),
        "pairs": len(starts),
        "classes_scored": list(classes.names[1:]),
        "units": "percent",
        "forecasters": {name: _report(s, protocol, FORECASTERS[name]) for name, s in scores.items()},
        "published": [asdict(p) for p in PUBLISHED],
    }


def _protocol_windows(protocol: ForecastProtocol, data: DataSpec, split: str) -> tuple[WindowDataset, int]:
    """The windows of a pair's span at the data's own rate, one every `step` frames, and that step."""
    options = {**data.options, "classes": protocol.classes}
    if reader_accepts(data.format, "mask"):
        options["mask"] = protocol.mask
    reader = open_reader(data.path, data.format, **options)
    step = protocol.step(reader.grid.hz, data.path)
    windows = WindowDataset(reader, (protocol.frames - 1) * step + 1, step, SPLITS[split])
    windows.require_poses(f"the {protocol.name} protocol's ego-motion-compensated baselines")
    return windows, step


def _resampled(windows: WindowDataset, scene: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """A whole scene's labels (N', X, Y, Z) and poses (N', 4, 4), every `step`-th frame from its first."""
    info = windows.scenes[scene]
    labels, _ = windows.reader.read_frames(info, 0, info.num_frames)  # the protocol scores every voxel
    return labels[::step], windows.poses(scene)[::step]


def _score_pair(scores: dict[str, PerFrameScores], pair: tuple, history: int, extent: tuple) -> None:
    """Add each baseline's forecast of one pair (labels (H+F, X, Y, Z), poses (H+F, 4, 4)) to its scores."""
    labels, poses = pair
    past, future = labels[:history], labels[history:]
    forecasts = {
        "copy_last": copy_last(past, len(future)),
        "ego_copy_last": ego_copy_last(past[-1], poses[history - 1], poses[history:], extent),
        "aligned_copy": aligned_copy(past, poses[:history], poses[history:], extent)[0],
    }
    for name, forecast in forecasts.items():
        scores[name].update(forecast, future)


def _report(scores: PerFrameScores, protocol: ForecastProtocol, true_path: bool) -> dict:
    """One forecaster's field scores: at each reported time, and per future frame."""
    per_frame = [field_scores(m.matrix, protocol.absent) for m in scores.matrices]
    miou, iou = ([s[i] for s in per_frame] for i in (0, 1))
    at = {f"{t:g}s": f for t, f in zip(protocol.report_at_s, protocol.report_frames, strict=True)}
    return {
        "true_future_ego_path": true_path,
        "miou": {key: miou[f] for key, f in at.items()},
        "iou": {key: iou[f] for key, f in at.items()},
        "miou_per_frame": miou,
        "iou_per_frame": iou,
    }
