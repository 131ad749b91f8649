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

from dataclasses import asdict

import numpy as np

from dynamiccity.data import open_reader, reader_accepts
from dynamiccity.data.errors import DataError
from dynamiccity.data.windows import SPLITS, WindowDataset
from dynamiccity.metrics.forecast import (
    PerFrameScores,
    aligned_copy,
    copy_last,
    ego_copy_last,
    field_scores,
)
from dynamiccity.protocols import PUBLISHED, ForecastProtocol
from dynamiccity.runs.datasets import DataSpec

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
