"""Occupancy forecasting (paper B.2): the baselines a forecast must beat and its scores per future frame.

Copy-last repeats the last observed frame. When the ego moves, the world slides through the grid and
copy-last is wrong everywhere for a reason no forecaster has to learn; the ego-motion-compensated copy-last
moves the last frame's voxels by the ego's true motion (from the poses) into each future frame's grid: the
static world lands where it will be, moving actors stay where they were last seen.
"""

from __future__ import annotations

import numpy as np
import torch

from dynamiccity.data.classes import CLASS_NAMES, FREE
from dynamiccity.data.egoframe import aligned_lookup, moved
from dynamiccity.metrics.reconstruction import ConfusionMatrix
from dynamiccity.protocols import ABSENT_RULES, AbsentRule


def copy_last(past: np.ndarray, frames: int) -> np.ndarray:
    """The last frame of past (T, X, Y, Z) repeated `frames` times: (frames, X, Y, Z)."""
    return np.repeat(past[-1:], frames, axis=0)


def ego_copy_last(
    last: np.ndarray,
    last_pose: np.ndarray,
    future_poses: np.ndarray,
    extent: tuple[float, float, float, float, float, float],
) -> np.ndarray:
    """The last observed frame (X, Y, Z) seen from each future ego pose: (F, X, Y, Z).

    Each voxel centre of a future frame's grid is taken through the world into the last frame's ego frame
    and given the label of the voxel it lands in (nearest neighbour); free where it lands outside the grid.
    Poses are ego-to-world (4, 4) (`last_pose`) and (F, 4, 4); `extent` is the grid's metric box
    [x0, y0, z0, x1, y1, z1] around the ego.
    """
    if not (np.isfinite(last_pose).all() and np.isfinite(future_poses).all()):
        raise ValueError("ego-motion-compensated copy-last needs finite poses; the data has none.")
    to_last = np.linalg.inv(last_pose)
    return np.stack([moved(last, to_last @ pose, extent) for pose in future_poses])


def aligned_copy(
    past: np.ndarray,
    past_poses: np.ndarray,
    future_poses: np.ndarray,
    extent: tuple[float, float, float, float, float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """The observed past (T, X, Y, Z), at poses (T, 4, 4), seen from each future pose (F, 4, 4): each voxel
    of a future frame takes its label from the past frame whose grid it lands most nearly on a voxel centre
    of (`data.egoframe.aligned_lookup`). A rigid move of a grid by a fraction of a voxel shifts what
    nearest-neighbour reading of one frame gives by up to half a voxel, which thin structures (a kerb, a
    pole) do not survive; the past window saw the static world from T poses, and the best-aligned one reads
    it nearly where it is. Moving actors are read from that frame too, where they were then. Returns the
    frames (F, X, Y, Z) and where no past frame saw (F, X, Y, Z) bool (free there)."""
    if not (np.isfinite(past_poses).all() and np.isfinite(future_poses).all()):
        raise ValueError("copying the observed past needs finite poses; the data has none.")
    if past.ndim != 4 or len(past) != len(past_poses):
        raise ValueError(f"a past window {past.shape} must be (T, X, Y, Z) with T = {len(past_poses)} poses.")
    shape, flat_past = past.shape[1:], past.reshape(len(past), -1)
    out = np.full((len(future_poses), flat_past.shape[1]), FREE, past.dtype)
    unseen = np.ones(out.shape, bool)
    for f, pose in enumerate(future_poses):
        which, flat, inside = aligned_lookup(shape, np.linalg.inv(past_poses) @ pose, extent)
        out[f, inside] = flat_past[which[inside], flat[inside]]
        unseen[f] = ~inside
    return out.reshape(-1, *shape), unseen.reshape(-1, *shape)


def observed_kept(forecast: np.ndarray, observed: np.ndarray, unseen: np.ndarray) -> np.ndarray:
    """A forecast (F, X, Y, Z) that keeps what was observed: the observed past seen from the future poses
    the forecast is shown along (`aligned_copy`: the frames and where they are unseen) wherever it was
    seen; the forecast fills only what no past frame saw."""
    if forecast.shape != observed.shape or observed.shape != unseen.shape:
        raise ValueError(
            f"a forecast {forecast.shape} must be (F, X, Y, Z) like the observed past it keeps, "
            f"{observed.shape}."
        )
    return np.where(unseen, forecast, observed)


def voted(forecasts: np.ndarray, num_classes: int, quorum: int = 1) -> np.ndarray:
    """The per-voxel most frequent class of K forecasts (K, F, X, Y, Z) of one future: (F, X, Y, Z).

    A generative model's sample is one possible future; scored voxel by voxel, the class most samples agree
    on is the better point forecast (it maximises the expected voxel accuracy as K grows). A tie goes to the
    lowest class id: to free (0) whenever free is among the most frequent. With `quorum` Q > 1 a voxel is
    free unless at least Q forecasts agree on its class: a class IoU gains from a voxel only when the voxel
    is that class with a probability above IoU / (1 + IoU), so an unsure voxel is better left free."""
    forecasts = np.asarray(forecasts)
    if forecasts.ndim != 5 or len(forecasts) == 0:
        raise ValueError(f"voting needs forecasts (K, F, X, Y, Z) with K >= 1, got {forecasts.shape}.")
    if not 1 <= quorum <= len(forecasts):
        raise ValueError(
            f"a quorum must be 1..{len(forecasts)} of the {len(forecasts)} forecasts, got {quorum}."
        )
    if len(forecasts) == 1:
        return forecasts[0]
    counts = np.zeros((num_classes, *forecasts.shape[1:]), dtype=np.uint16)
    for c in range(num_classes):
        counts[c] = (forecasts == c).sum(0)
    best = counts.argmax(0).astype(forecasts.dtype)  # argmax takes the first maximum: the lowest id
    return best if quorum == 1 else np.where(counts.max(0) >= quorum, best, FREE).astype(forecasts.dtype)


class PerFrameScores:
    """Confusion matrices per future frame index, accumulated over forecasts: mIoU, occupancy IoU and each
    class's IoU of each future frame (as `ConfusionMatrix.compute`), and the mIoU on the voxels a forecast
    is asked to change where `update` is given them.

    Args:
        frames: future frames F of a forecast.
        num_classes: K of the class ids.
        names: the K class names (default: the common classes' when K is theirs, else "class i").
    """

    def __init__(self, frames: int, num_classes: int, names: tuple[str, ...] | None = None) -> None:
        self.matrices = [ConfusionMatrix(num_classes) for _ in range(frames)]
        self.changing = [ConfusionMatrix(num_classes) for _ in range(frames)]
        if names is None:
            names = (
                CLASS_NAMES
                if num_classes == len(CLASS_NAMES)
                else tuple(f"class {i}" for i in range(num_classes))
            )
        self.names = names

    def update(self, pred: np.ndarray, target: np.ndarray, changing: np.ndarray | None = None) -> None:
        """pred, target: (F, X, Y, Z) class ids of one forecast and its truth; changing: (F, X, Y, Z) bool,
        the voxels whose truth copying the past does not give (`changed_from`), scored apart."""
        if pred.shape != target.shape or len(pred) != len(self.matrices):
            raise ValueError(
                f"a forecast {pred.shape} and its truth {target.shape} must both be ({len(self.matrices)}, X, Y, Z)."
            )
        if changing is not None and changing.shape != target.shape:
            raise ValueError(f"a changing-voxel mask {changing.shape} must be the truth's {target.shape}.")
        for f, (p, t) in enumerate(zip(pred, target, strict=True)):
            p, t = (torch.from_numpy(np.ascontiguousarray(a)) for a in (p, t))
            self.matrices[f].update(p, t)
            if changing is not None:
                self.changing[f].update(p, t, torch.from_numpy(np.ascontiguousarray(changing[f])))

    def compute(self) -> dict:
        """{"miou": [per future frame], "iou": [...], "class_iou": {class name: [...]}, "changing_miou": [...]}:
        a class's IoU is None in a frame whose truth lacks it; "changing_miou" only where `update` was given
        changing voxels."""
        scores = [m.compute() for m in self.matrices]
        classes = [c for c in range(len(self.names)) if c != FREE]
        out = {
            "miou": [s["miou"] for s in scores],
            "iou": [s["iou"] for s in scores],
            "class_iou": {self.names[c]: [s["per_class"].get(c) for s in scores] for c in classes},
        }
        if any(m.matrix.sum() > 0 for m in self.changing):
            out["changing_miou"] = [m.compute()["miou"] for m in self.changing]
        return out


def changed_from(copied: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The voxels (F, X, Y, Z) bool whose truth is not what the copied past (`ego_copy_last`) says there:
    where vehicles went, what came into view and what the copy read wrong. A forecast that only copies
    scores 0 there."""
    return copied != truth


def field_scores(matrix: torch.Tensor, absent: AbsentRule) -> tuple[float, float]:
    """(mIoU, IoU) in percent of a (K, K) confusion matrix (rows: truth, columns: prediction, free at id 0),
    as the occupancy-forecasting papers compute them: mIoU averages classes 1..K-1 (free left out, every
    other class in, "others" included) with `absent` deciding classes the truth lacks (`ABSENT_RULES`);
    IoU is that of occupied (any id but free) against free, under the same rule."""
    if absent not in ABSENT_RULES:
        raise ValueError(f"absent must be one of {', '.join(ABSENT_RULES)}, got {absent!r}.")
    m = matrix.double()
    tp, truth, predicted = m.diag()[1:], m.sum(1)[1:], m.sum(0)[1:]
    occupied = torch.stack([m[1:, 1:].sum(), m[1:].sum(), m[:, 1:].sum()])  # tp, truth, predicted
    ious = [_iou(*counts, absent) for counts in zip(tp, truth, predicted, strict=True)]
    kept = [iou for iou in ious if not np.isnan(iou)]
    miou = 100 * sum(kept) / len(kept) if kept else float("nan")
    return miou, 100 * _iou(*occupied, absent)


def _iou(tp: torch.Tensor, truth: torch.Tensor, predicted: torch.Tensor, absent: AbsentRule) -> float:
    """One class's IoU from its counts; NaN where `absent` leaves it out of a mean."""
    if absent == "one" and truth == 0:
        return 1.0
    union = truth + predicted - tp
    iou = float(tp / union) if union > 0 else float("nan")
    return float("nan") if absent == "dropped" and iou == 0 else iou
