"""Scoring a VAE's reconstructions: one pass that the trainer's validation and `eval-vae` share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch

from dynamiccity.data.egoframe import anchored, is_world, to_ego, world_anchor
from dynamiccity.data.windows import Window, WindowDataset
from dynamiccity.metrics import ConfusionMatrix, GhostCount, by_class_name, changing_voxels
from dynamiccity.runs.datasets import DataSpec, check_grid, open_windows, read_as_run
from dynamiccity.vae.model import HexPlaneVAE
from dynamiccity.vae.refine import Refinement, encode_window


@dataclass
class Confusions:
    """Confusion matrices of reconstructions: over all valid voxels, and over those whose target label
    changes within the window (`metrics.changing_voxels`); and the temporal ghosts among the false positives."""

    all: ConfusionMatrix
    changing: ConfusionMatrix
    ghosts: GhostCount


def shown_windows(vae, data: DataSpec, split: str) -> WindowDataset:
    """The windows a trained VAE (`runs.loading.Trained`) is scored and shown on: `split` of `data`, read
    in the run's class set, side by side (stride T unless `data` sets one), in ego coordinates, where a
    VAE of world coordinates has its reconstructions shown back (`reconstructions`, `world`)."""
    cfg = vae.model.cfg
    ego = replace(read_as_run(data, vae.config.data), coordinates="ego")
    windows = open_windows(ego, cfg.frames, split, default_stride=cfg.frames)
    check_grid(windows, cfg)
    if is_world(vae.config.data.coordinates):
        windows.require_poses("a VAE of world coordinates")
    return windows


def spread_indices(data: WindowDataset, limit: int) -> list[int]:
    """Up to `limit` window indices spread evenly over `data`."""
    return sorted(set(np.linspace(0, len(data) - 1, num=min(limit, len(data))).astype(int).tolist()))


@torch.no_grad()
def reconstructions(
    model: HexPlaneVAE,
    data: WindowDataset,
    indices: list[int],
    device: torch.device,
    refine: Refinement | None = None,
    coordinates: str = "ego",
) -> Iterator[tuple[Window, torch.Tensor]]:
    """Each window of `indices` with its reconstruction (T, X, Y, Z) int64 on the CPU: deterministic
    encode (refined on the window when `refine` is given: `vae.refine`), decode, argmax.

    coordinates: those of the VAE, shown ego windows. A VAE of world coordinates encodes each as seen from
    the frame they anchor to (`WindowDataset.in_world`, `egoframe.world_anchor`) and its reconstruction
    is shown back along the window's ego path (`to_ego`), where the ego looks beyond the world window
    (ahead of a driving ego) free, as a user is shown it."""
    model.eval()
    anchor = world_anchor(coordinates, model.cfg.frames) if is_world(coordinates) else None
    for i in indices:
        window = data[i]
        seen = window if anchor is None else data.in_world(window, anchor)
        labels = torch.from_numpy(seen.labels)[None].to(device)
        latent = encode_window(model, labels, torch.from_numpy(seen.valid)[None].to(device), refine)
        pred = model.decode(latent).argmax(dim=-1)[0].cpu()
        if anchor is not None:
            path = anchored(window.trajectory, anchor)
            view = (data.grid.shape, data.grid.extent)
            pred = torch.from_numpy(to_ego(pred.numpy(), path, data.world_grid.extent, view)[0])
        yield window, pred


def confusions_of(
    model: HexPlaneVAE,
    data: WindowDataset,
    indices: list[int],
    device: torch.device,
    also: Callable[[Window, torch.Tensor], None] | None = None,
    refine: Refinement | None = None,
    coordinates: str = "ego",
) -> Confusions:
    """Score the reconstructions of windows `indices` (encodings refined with `refine` when given; those of
    a VAE of world `coordinates` shown back in ego coordinates, see `reconstructions`); `also(window,
    reconstruction)` sees each too."""
    k = model.cfg.num_classes
    out = Confusions(ConfusionMatrix(k), ConfusionMatrix(k), GhostCount(k))
    for window, pred in reconstructions(model, data, indices, device, refine, coordinates):
        target, valid = torch.from_numpy(window.labels), torch.from_numpy(window.valid)
        out.all.update(pred, target, valid)
        out.changing.update(pred, target, valid & changing_voxels(target))
        out.ghosts.update(pred, target, valid)
        if also is not None:
            also(window, pred)
    return out


def validation_scores(
    model: HexPlaneVAE,
    data: WindowDataset,
    indices: list[int],
    device: torch.device,
    refine: Refinement | None = None,
) -> dict[str, float]:
    """Validation scalars for the trainer: score (= mIoU), miou, iou and iou_<class>; with `refine`, those
    of refined encodings, and the encoder's alone as encoder_miou and encoder_iou."""
    result = confusions_of(model, data, indices, device, refine=refine).all.compute()
    per_class = {f"iou_{name}": v for name, v in by_class_name(result["per_class"]).items()}
    scores = {"score": result["miou"], "miou": result["miou"], "iou": result["iou"], **per_class}
    if refine is not None:
        encoded = confusions_of(model, data, indices, device).all.compute()
        scores |= {"encoder_miou": encoded["miou"], "encoder_iou": encoded["iou"]}
    return scores
