"""`dynamiccity eval-gen`: the paper's Table 2 row (IS, FID, KID, P, R in 2D and 3D) for a set of generated
scenes against real ones, with the reference points that say what the numbers mean."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from dynamiccity.broken import BROKEN, broken
from dynamiccity.device import pick_device
from dynamiccity.evaluator import Evaluator, EvaluatorConfig, render_window
from dynamiccity.metrics.generation import (
    frechet_distance,
    gaussian_precision_recall,
    inception_score,
    kernel_distance,
    kernel_distance_subsets,
    knn_precision_recall,
)
from dynamiccity.metrics.two_sample import classifier_two_sample, scene_statistics
from dynamiccity.runs.datasets import DataSpec, check_grid, open_windows
from dynamiccity.runs.evaluator import load_evaluator


def window_labels(
    data: DataSpec, cfg: EvaluatorConfig, max_windows: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The windows of every split of `data`, side by side (stride T unless set): labels (N, T, X, Y, Z)
    uint8 and the index of each window's scene (N,)."""
    windows = open_windows(data, cfg.frames, "all", default_stride=cfg.frames)
    check_grid(windows, cfg)
    if len(windows) == 0:
        raise ValueError(f"{data.path}: no windows of {cfg.frames} frames.")
    count = len(windows) if max_windows is None else min(max_windows, len(windows))
    return np.stack([windows[i].labels for i in range(count)]), np.array(
        [windows.index[i][0] for i in range(count)]
    )


@torch.no_grad()
def features(model: Evaluator, labels: Iterable[np.ndarray], device: torch.device, batch: int = 8) -> dict:
    """Features of windows (T, X, Y, Z): "3d" (N, 2C) window, "3d_frame" (N*T, C), "2d" (N, C2), and the
    first head's logits "logits3d", "logits2d" (N, K)."""
    model.eval()
    head = model.cfg.heads[0]
    out: dict[str, list[torch.Tensor]] = {k: [] for k in ("3d", "3d_frame", "2d", "logits3d", "logits2d")}
    items = list(labels)
    for first in range(0, len(items), batch):
        chunk = items[first : first + batch]
        renders = [render_window(w, model.cfg) for w in chunk]
        lab = torch.from_numpy(np.stack(chunk)).long().to(device)
        frame, window, _ = model.features3d(lab)
        feature2d = model.renders(
            torch.from_numpy(np.stack([r[0] for r in renders])).to(device),
            torch.from_numpy(np.stack([r[1] for r in renders])).to(device),
        )
        out["3d"].append(window.cpu())
        out["3d_frame"].append(frame.flatten(0, 1).cpu())
        out["2d"].append(feature2d.cpu())
        out["logits3d"].append(model.heads3d[head](window).cpu())
        out["logits2d"].append(model.heads2d[head](feature2d).cpu())
    return {k: torch.cat(v).double() for k, v in out.items()}


def scores(real: dict, fake: dict) -> dict:
    """{"2d": {...}, "3d": {...}}: IS (of the fake set), FID, KID (Eq. 9, full sets) and its subset mean,
    P and R (Eqs. 10-11) and k-NN manifold P and R; "3d" also FID over single frames ("fid_frame")."""
    out = {}
    for kind in ("2d", "3d"):
        x, y = real[kind], fake[kind]
        p, r = gaussian_precision_recall(x, y)
        pk, rk = knn_precision_recall(x, y) if min(len(x), len(y)) > 3 else (float("nan"),) * 2
        kid_mean, kid_std = kernel_distance_subsets(x, y, subsets=50, subset_size=min(100, len(x), len(y)))
        out[kind] = {
            "is": inception_score(fake[f"logits{kind}"]),
            "fid": frechet_distance(x, y),
            "kid": kernel_distance(x, y),
            "kid_subsets": {"mean": kid_mean, "std": kid_std},
            "precision": p,
            "recall": r,
            "precision_knn": pk,
            "recall_knn": rk,
        }
    out["3d"]["fid_frame"] = frechet_distance(real["3d_frame"], fake["3d_frame"])
    return out


def two_sample(real: tuple, fake: tuple, num_classes: int) -> dict:
    """Classifier two-sample tests (`metrics.two_sample`) of real against fake windows, each side given as its
    labels (N, T, X, Y, Z), evaluator features and scene of each window (windows of one scene stay in one
    half): on `scene_statistics` of the labels ("statistics") and on the evaluator's 3D and 2D window
    features together ("evaluator")."""
    (real_labels, real_f, real_g), (fake_labels, fake_f, fake_g) = real, fake
    both = [np.concatenate([f["3d"].numpy(), f["2d"].numpy()], axis=1) for f in (real_f, fake_f)]
    stats = [scene_statistics(labels, num_classes) for labels in (real_labels, fake_labels)]
    return {
        "statistics": classifier_two_sample(*stats, groups=(real_g, fake_g)),
        "evaluator": classifier_two_sample(*both, groups=(real_g, fake_g)),
    }


def _take(feats: dict, rows: range) -> dict:
    """The features of windows `rows` (the per-frame features follow their windows)."""
    frames = len(feats["3d_frame"]) // len(feats["3d"])
    out = {k: v[rows.start : rows.stop] for k, v in feats.items() if k != "3d_frame"}
    out["3d_frame"] = feats["3d_frame"][rows.start * frames : rows.stop * frames]
    return out


def _spread(runs: list[dict]) -> dict:
    """Mean and standard deviation of each number across score dicts of one shape."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: _spread([r[k] for r in runs]) for k in first}
    values = np.array(runs, dtype=float)
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}


def subset_scores(real: dict, fake: dict, subsets: int) -> dict:
    """Scores of `fake` against `subsets` disjoint subsets of the real windows of the fake set's size, as
    mean and standard deviation ("fake"), and the floor at that size: disjoint pairs of those subsets
    ("floor"). The spread is the noise a comparison at this sample size carries."""
    n = len(fake["3d"])
    if subsets < 2 or subsets * n > len(real["3d"]):
        raise ValueError(
            f"{subsets} disjoint subsets of {n} windows need {subsets * n} real windows, "
            f"there are {len(real['3d'])} (and at least 2 subsets)."
        )
    parts = [_take(real, range(i * n, (i + 1) * n)) for i in range(subsets)]
    return {
        "size": n,
        "subsets": subsets,
        "fake": _spread([scores(part, fake) for part in parts]),
        "floor": _spread([scores(parts[i], parts[i + 1]) for i in range(0, subsets - 1, 2)]),
    }


def eval_gen(
    evaluator: str | Path,
    real: DataSpec,
    fake: DataSpec,
    max_windows: int | None = None,
    references: bool = False,
    device: str | None = None,
    subsets: int = 0,
    break_fake: str | None = None,
) -> dict:
    """Scores of the scenes in `fake` against those in `real` (windows of the evaluator's T frames), with
    the number of windows of each; with `references`, also the floor (one half of the real windows against
    the other) and the broken generators made from the real windows; with `subsets`, also the scores
    against that many disjoint real subsets of the fake set's size, and the floor at that size
    (`subset_scores`). `break_fake` breaks the fake windows first with one of the `BROKEN` generators: a
    reference point scored exactly as a generator is."""
    device = pick_device(device)
    trained = load_evaluator(evaluator, device=device)
    cfg = trained.model.cfg
    real_labels, real_g = window_labels(real, cfg, max_windows)
    fake_labels, fake_g = window_labels(fake, cfg, max_windows)
    if break_fake is not None:
        fake_labels = broken(fake_labels, break_fake)
    real_f, fake_f = (
        features(trained.model, real_labels, device),
        features(trained.model, fake_labels, device),
    )
    k = cfg.num_classes
    result = {
        **scores(real_f, fake_f),
        "two_sample": two_sample((real_labels, real_f, real_g), (fake_labels, fake_f, fake_g), k),
        "windows": {"real": len(real_labels), "fake": len(fake_labels)},
        "evaluator": str(trained.checkpoint),
    }
    if subsets:
        result["at_size"] = subset_scores(real_f, fake_f, subsets)
    if references:
        result["references"] = _references(trained.model, (real_labels, real_f, real_g), device)
    return result


def _references(model: Evaluator, real: tuple, device) -> dict:
    """The scores, and two-sample tests, of the floor (one half of the real windows against the other) and
    of each broken generator made from the real windows."""
    labels, feats, groups = real
    half = len(labels) // 2
    parts = [
        (labels[rows], features(model, labels[rows], device), groups[rows])
        for rows in (slice(0, half), slice(half, 2 * half))
    ]
    k = model.cfg.num_classes
    out = {
        "floor (real half vs half)": {**scores(parts[0][1], parts[1][1]), "two_sample": two_sample(*parts, k)}
    }
    for kind in BROKEN:
        bad = broken(labels, kind)
        bad_f = features(model, bad, device)
        out[kind] = {**scores(feats, bad_f), "two_sample": two_sample(real, (bad, bad_f, groups), k)}
    return out
