"""Scoring a trained VAE on a dataset (what `dynamiccity eval-vae` calls)."""

from __future__ import annotations

from pathlib import Path

from dynamiccity.data import open_dataset
from dynamiccity.data.classes import CLASS_NAMES, FREE
from dynamiccity.data.windows import TRAIN_SPLITS, VAL_SPLITS
from dynamiccity.train.distributed import pick_device
from dynamiccity.vae.run import check_grid, confusions_of, load_vae, val_indices

SPLITS = {"train": TRAIN_SPLITS, "val": VAL_SPLITS, "all": None}


def evaluate_run(
    run_dir: str | Path,
    data: str | Path,
    format: str,
    split: str = "val",
    max_windows: int | None = None,
    stride: int | None = None,
    options: dict | None = None,
    device: str | None = None,
) -> dict:
    """Reconstruction metrics over the windows of `split`: "miou", "iou", "per_class" {name: IoU},
    "precision" and "recall" {name: value}, "changing" {"miou", "per_class", "share"} (the same scores over
    the voxels whose label changes within the window, and their share of the valid voxels), "windows",
    "checkpoint", "step".

    Windows default to stride T (non-overlapping); `max_windows` picks that many spread evenly.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}.")
    device = pick_device(device)
    model, meta = load_vae(run_dir, device=device)
    cfg = model.cfg
    windows = open_dataset(
        data, format, frames=cfg.frames, stride=stride or cfg.frames, splits=SPLITS[split], **(options or {})
    )
    check_grid(windows, cfg)
    if len(windows) == 0:
        raise ValueError(f"{data}: no {split} windows of {cfg.frames} frames.")
    indices = val_indices(windows, max_windows) if max_windows else list(range(len(windows)))
    scores = confusions_of(model, windows, indices, device)
    result, rates, changing = scores.all.compute(), scores.all.rates(), scores.changing.compute()
    return {
        "miou": result["miou"],
        "iou": result["iou"],
        "per_class": _by_name(result["per_class"]),
        "precision": _by_name(rates["precision"]),
        "recall": _by_name(rates["recall"]),
        "changing": {
            "miou": changing["miou"],
            "per_class": _by_name(changing["per_class"]),
            "share": float(scores.changing.matrix.sum() / scores.all.matrix.sum()),
        },
        "windows": len(indices),
        "checkpoint": meta["checkpoint"],
        "step": meta["step"],
    }


def _by_name(values: dict[int, float]) -> dict[str, float]:
    """{class id: value} -> {class name: value}, free left out."""
    return {CLASS_NAMES[c]: v for c, v in values.items() if c != FREE}
