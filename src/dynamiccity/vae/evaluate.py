"""Scoring a trained VAE on a dataset (what `dynamiccity eval-vae` calls)."""

from __future__ import annotations

from pathlib import Path

from dynamiccity.data import open_dataset
from dynamiccity.data.classes import CLASS_NAMES
from dynamiccity.data.windows import TRAIN_SPLITS, VAL_SPLITS
from dynamiccity.train.distributed import pick_device
from dynamiccity.vae.run import check_grid, confusion_of, load_vae, val_indices

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
    """{"miou", "iou", "per_class": {name: iou}, "windows", "checkpoint"} over windows of `split`.

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
    result = confusion_of(model, windows, indices, device)
    return {
        "miou": result["miou"],
        "iou": result["iou"],
        "per_class": {CLASS_NAMES[c]: v for c, v in result["per_class"].items() if c != 0},
        "windows": len(indices),
        "checkpoint": meta["checkpoint"],
        "step": meta["step"],
    }
