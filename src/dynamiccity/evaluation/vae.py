"""`dynamiccity eval-vae`: reconstruction scores of a trained VAE on a dataset."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from dynamiccity.device import pick_device
from dynamiccity.metrics import by_class_name
from dynamiccity.metrics.egomotion import EgoMotionThrough
from dynamiccity.runs.datasets import DataSpec
from dynamiccity.runs.loading import load_vae
from dynamiccity.runs.vae import encoding_of
from dynamiccity.runs.validation import Confusions, confusions_of, shown_windows, spread_indices
from dynamiccity.vae.refine import Refinement


def evaluate_vae(
    run_dir: str | Path,
    data: DataSpec,
    split: str = "val",
    max_windows: int | None = None,
    device: str | None = None,
    ego_motion: bool = False,
    refine: Refinement | None = None,
) -> dict:
    """Reconstruction metrics over the windows of `split`: "miou", "iou", "per_class" {name: IoU},
    "precision" and "recall" {name: value}, "changing" {"miou", "per_class", "share"} (the same scores over
    the voxels whose label changes within the window, and their share of the valid voxels), "ghosts"
    {name: {"false_positives", "ghost_share"}} (free voxels predicted as a class where it stands in another
    frame of the window: `metrics.reconstruction.GhostCount`), "classes", "windows",
    "checkpoint", "step"; with `ego_motion`, "ego_motion" (`EgoMotionThrough`: the command agreement and
    ADE/FDE of the trajectory measured from the input and from the reconstruction, over the windows with
    poses, and what each true command is read as).

    Windows default to stride T (side by side); `max_windows` picks that many spread evenly. Each window is
    encoded as the VAE encodes by default (`VAERunConfig.encoding`) unless `refine` says otherwise (steps 0:
    one pass); a refined encoding is refined on its window before decoding (`vae.refine`; "refine" in the
    result says how).
    Scores are in ego coordinates, as a user is shown scenes: a VAE trained in world coordinates
    ("coordinates" in the result) encodes each window as seen from its first frame and its reconstruction
    is shown back along the window's ego path (`runs.validation.reconstructions`).
    """
    device = pick_device(device)
    vae = load_vae(run_dir, device=device)
    cfg = vae.model.cfg
    refine = encoding_of(vae.config, refine)
    windows = shown_windows(vae, data, split)
    if len(windows) == 0:
        raise ValueError(f"{data.path}: no {split} windows of {cfg.frames} frames.")
    indices = spread_indices(windows, max_windows) if max_windows else list(range(len(windows)))
    motion = EgoMotionThrough(tuple(windows.grid.voxel_size[:2]), windows.reader.classes.common)
    also = motion if ego_motion else None
    scores = confusions_of(vae.model, windows, indices, device, also, refine, vae.config.data.coordinates)
    return {
        **_report(scores, windows.reader.classes.names),
        **({"ego_motion": motion.result()} if ego_motion else {}),
        **({"refine": asdict(refine)} if refine is not None else {}),
        "classes": windows.reader.classes.name,
        "coordinates": vae.config.data.coordinates,
        "windows": len(indices),
        "checkpoint": str(vae.checkpoint),
        "step": vae.step,
    }


def _report(scores: Confusions, names: tuple[str, ...]) -> dict:
    """The reconstruction scores of `scores`, by class name."""
    result, rates, changing = scores.all.compute(), scores.all.rates(), scores.changing.compute()
    return {
        "miou": result["miou"],
        "iou": result["iou"],
        "per_class": by_class_name(result["per_class"], names),
        "precision": by_class_name(rates["precision"], names),
        "recall": by_class_name(rates["recall"], names),
        "changing": {
            "miou": changing["miou"],
            "per_class": by_class_name(changing["per_class"], names),
            "share": float(scores.changing.matrix.sum() / scores.all.matrix.sum()),
        },
        "ghosts": {names[c]: v for c, v in scores.ghosts.compute().items()},
    }
