"""Reconstruction metrics (paper Sec. 5.1): per-class IoU over valid voxels, mIoU, occupancy IoU."""

from __future__ import annotations

import torch

from dynamiccity.data.classes import CLASS_NAMES, FREE


class ConfusionMatrix:
    """Accumulates a (K, K) confusion matrix (rows: target, columns: prediction) over valid voxels."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None) -> None:
        """pred, target: class ids in [0, K) of an integer dtype and the same shape; valid: bool mask of
        voxels to score. Ids outside [0, K) among the scored voxels and non-integer dtypes are a ValueError."""
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape.")
        for name, ids in (("pred", pred), ("target", target)):
            if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
                raise ValueError(f"{name} must hold integer class ids, not {ids.dtype}.")
        pred, target = pred.reshape(-1).long().cpu(), target.reshape(-1).long().cpu()
        if valid is not None:
            keep = valid.reshape(-1).bool().cpu()
            pred, target = pred[keep], target[keep]
        k = self.num_classes
        for name, ids in (("pred", pred), ("target", target)):
            for value in (int(ids.min()), int(ids.max())) if ids.numel() else ():
                if not 0 <= value < k:
                    raise ValueError(f"class ids must lie in [0, {k}), got {value} in {name}.")
        self.matrix += torch.bincount(target * k + pred, minlength=k * k).view(k, k)

    def compute(self) -> dict:
        """{"miou": float, "iou": float, "per_class": {class id: IoU}} (classes present in the target only).

        mIoU averages the IoU of classes 1..K-1 present in the target (free excluded); "iou" is the binary
        occupancy IoU of (label != free).
        """
        m = self.matrix.double()
        tp, gt, pr = m.diag(), m.sum(dim=1), m.sum(dim=0)
        union = gt + pr - tp
        per_class = {c: float(tp[c] / union[c]) for c in range(self.num_classes) if gt[c] > 0}
        scored = [iou for c, iou in per_class.items() if c != FREE]
        occ_tp = m[1:, 1:].sum()
        occ_union = m.sum() - m[FREE, FREE]
        return {
            "miou": sum(scored) / len(scored) if scored else float("nan"),
            "iou": float(occ_tp / occ_union) if occ_union > 0 else float("nan"),
            "per_class": per_class,
        }

    def rates(self) -> dict:
        """{"precision": {class id: value}, "recall": {class id: value}}: precision of classes predicted at
        least once, recall of classes present in the target. IoU hides which of the two a class lacks: a
        decoder that smears a moving object along its path keeps its recall and loses precision."""
        m = self.matrix.double()
        tp, gt, pr = m.diag(), m.sum(dim=1), m.sum(dim=0)
        k = range(self.num_classes)
        return {
            "precision": {c: float(tp[c] / pr[c]) for c in k if pr[c] > 0},
            "recall": {c: float(tp[c] / gt[c]) for c in k if gt[c] > 0},
        }


def changing_voxels(labels: torch.Tensor) -> torch.Tensor:
    """labels (T, X, Y, Z) -> bool (T, X, Y, Z): the positions whose label is not the same in every frame
    (moving actors, and the world sliding past a moving ego), repeated over the T frames. Scoring on them
    alone measures how well a 4D model keeps what moves; the rest of a window is a static scene."""
    if labels.ndim != 4:
        raise ValueError(f"labels must be (T, X, Y, Z), got {tuple(labels.shape)}.")
    return (labels != labels[:1]).any(dim=0).expand_as(labels)


class GhostCount:
    """Temporal ghosts: free voxels predicted as a class at a position that class holds in another frame of
    the same window. A factorised 4D latent that cannot tell when something was where draws it along its
    whole path; this counts that directly. Per class: `false` (free voxels predicted as it) and `ghosts`."""

    def __init__(self, num_classes: int) -> None:
        self.false = torch.zeros(num_classes, dtype=torch.int64)
        self.ghosts = torch.zeros(num_classes, dtype=torch.int64)

    def update(self, pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None) -> None:
        """pred, target: (T, X, Y, Z) class ids of one window; valid: bool of the same shape, or None."""
        if pred.shape != target.shape or target.ndim != 4:
            raise ValueError(
                f"pred and target must be one (T, X, Y, Z) window, got {pred.shape}, {target.shape}."
            )
        wrong = target == FREE if valid is None else (target == FREE) & valid
        for c in range(1, len(self.false)):
            false = wrong & (pred == c)
            self.false[c] += int(false.sum())
            self.ghosts[c] += int((false & (target == c).any(dim=0)).sum())

    def compute(self) -> dict[int, dict[str, float]]:
        """{class: {"false_positives": n, "ghost_share": ghosts / n}} for the classes with any."""
        return {
            c: {"false_positives": int(n), "ghost_share": float(self.ghosts[c] / n)}
            for c, n in enumerate(self.false.tolist())
            if n > 0
        }


def occupancy_iou(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, valid: torch.Tensor | None = None
) -> dict:
    """Per-class IoU, mIoU and occupancy IoU of label tensors of any (equal) shape; see ConfusionMatrix."""
    cm = ConfusionMatrix(num_classes)
    cm.update(pred, target, valid)
    return cm.compute()


def by_class_name(values: dict[int, float], names: tuple[str, ...] = CLASS_NAMES) -> dict[str, float]:
    """{class id: value} -> {class name: value} in a class set (the common one by default), free left out
    (no metric scores it)."""
    return {names[c]: v for c, v in values.items() if c != FREE}
