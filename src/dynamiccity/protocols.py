"""The forecasting protocols of the field, as their owners' evaluation code has them, and the scores published
under them: settings only, no torch, so the CLI lists them at once (`eval-forecast --protocol`). The
evaluation that runs a protocol is `dynamiccity.evaluation.forecast_protocol`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from dynamiccity.data.classes import ClassKind
from dynamiccity.data.errors import DataError
from dynamiccity.data.reader import MaskKind

AbsentRule = Literal["one", "dropped"]
ABSENT_RULES: tuple[str, ...] = AbsentRule.__args__
"""How an mIoU counts a class the truth lacks at a future frame: IoU 1 (OccWorld's and DOME's
`multi_step_MeanIou`) or left out of the mean when its IoU is 0 (I2-World's nanmean over IoU > 0)."""

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
