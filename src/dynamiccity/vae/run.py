"""A VAE run: its resolved configuration, the training task, loading a trained VAE back."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dynamiccity.config import YamlRunFile
from dynamiccity.data import open_dataset
from dynamiccity.data.windows import TRAIN_SPLITS, VAL_SPLITS, WindowDataset
from dynamiccity.losses import class_weights, vae_loss
from dynamiccity.metrics import ConfusionMatrix, changing_voxels
from dynamiccity.train.checkpoint import load_checkpoint
from dynamiccity.train.config import TrainConfig
from dynamiccity.vae.config import VAEConfig
from dynamiccity.vae.model import HexPlaneVAE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataSpec:
    """Where the windows come from. `options` go to the reader (mask=, poses=)."""

    path: str
    format: str
    stride: int = 1
    val_windows: int = 32
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LossSpec:
    lovasz_weight: float = 1.0
    kl_weight: float = 0.005
    weight_frames: int = 200
    class_weight_power: float = 1.0 / 3.0  # CE weight of class c: (max_share / share_c) ** power


@dataclass(frozen=True)
class VAERunConfig(YamlRunFile):
    """Everything that defines a VAE run; saved as RUN_DIR/config.yaml and inside every checkpoint."""

    preset: str
    model: VAEConfig
    train: TrainConfig
    data: DataSpec
    loss: LossSpec = LossSpec()


def open_windows(spec: DataSpec, frames: int, splits: tuple[str, ...] | None) -> WindowDataset:
    return open_dataset(
        spec.path, spec.format, frames=frames, stride=spec.stride, splits=splits, **spec.options
    )


def check_grid(data: WindowDataset, cfg: VAEConfig) -> None:
    if tuple(data.grid.shape) != tuple(cfg.grid):
        raise ValueError(f"{data.reader.root}: grid {data.grid.shape} does not match the model's {cfg.grid}.")


def frequency_counts(data: WindowDataset, max_frames: int) -> np.ndarray:
    """Per-class voxel counts over up to `max_frames` frames spread evenly over the training scenes."""
    counts = np.zeros(256, dtype=np.int64)
    picks = np.linspace(0, len(data) - 1, num=min(len(data), max(1, max_frames // data.frames))).astype(int)
    for i in np.unique(picks):
        window = data[int(i)]
        counts += np.bincount(window.labels[window.valid].reshape(-1), minlength=256)
    return counts


def val_indices(data: WindowDataset, limit: int) -> list[int]:
    return sorted(set(np.linspace(0, len(data) - 1, num=min(limit, len(data))).astype(int).tolist()))


class VAETask:
    """The VAE's training task for the shared Trainer."""

    def __init__(self, cfg: VAERunConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.train_data = open_windows(cfg.data, cfg.model.frames, TRAIN_SPLITS)
        if len(self.train_data) == 0:
            raise ValueError(f"{cfg.data.path}: no training windows of {cfg.model.frames} frames.")
        check_grid(self.train_data, cfg.model)
        val = open_windows(cfg.data, cfg.model.frames, VAL_SPLITS)
        self.val_data = val if len(val) else self.train_data
        counts = frequency_counts(self.train_data, cfg.loss.weight_frames)[: cfg.model.num_classes]
        self.weights = class_weights(counts, cfg.loss.class_weight_power).to(device)
        log.info("class weights %s", np.round(self.weights.cpu().numpy(), 3).tolist())

    def build_model(self) -> nn.Module:
        return HexPlaneVAE(self.cfg.model)

    def train_dataset(self) -> WindowDataset:
        return self.train_data

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
        labels, valid = batch.labels.to(self.device), batch.valid.to(self.device)
        out = model(labels)
        kl = out.posterior.kl()
        terms = vae_loss(
            out.logits, labels, kl, self.weights, valid, self.cfg.loss.lovasz_weight, self.cfg.loss.kl_weight
        )
        return terms.total, {"ce": float(terms.ce), "lovasz": float(terms.lovasz), "kl": float(terms.kl)}

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return evaluate_vae(
            model, self.val_data, val_indices(self.val_data, self.cfg.data.val_windows), self.device
        )


@dataclass
class Confusions:
    """Confusion matrices of reconstructions: over all valid voxels, and over those whose target label
    changes within the window (`metrics.changing_voxels`)."""

    all: ConfusionMatrix
    changing: ConfusionMatrix


@torch.no_grad()
def reconstructions(
    model: HexPlaneVAE, data: WindowDataset, indices: list[int], device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(target, prediction, valid) of windows `indices` on the CPU, each (T, X, Y, Z): deterministic encode,
    decode, argmax."""
    model.eval()
    for i in indices:
        window = data[i]
        target = torch.from_numpy(window.labels)
        pred = model.decode(model.encode(target[None].to(device))).argmax(dim=-1)[0].cpu()
        yield target, pred, torch.from_numpy(window.valid)


def confusions_of(
    model: HexPlaneVAE, data: WindowDataset, indices: list[int], device: torch.device
) -> Confusions:
    """Score the reconstructions of windows `indices`."""
    k = model.cfg.num_classes
    out = Confusions(ConfusionMatrix(k), ConfusionMatrix(k))
    for target, pred, valid in reconstructions(model, data, indices, device):
        out.all.update(pred, target, valid)
        out.changing.update(pred, target, valid & changing_voxels(target))
    return out


def evaluate_vae(model: HexPlaneVAE, data: WindowDataset, indices: list[int], device: torch.device) -> dict:
    """Validation scalars for the trainer: score (= mIoU), miou, iou and iou_<class>."""
    result = confusions_of(model, data, indices, device).all.compute()
    return {
        "score": result["miou"],
        "miou": result["miou"],
        "iou": result["iou"],
        **_named(result["per_class"]),
    }


def _named(per_class: dict[int, float]) -> dict[str, float]:
    from dynamiccity.data.classes import CLASS_NAMES

    return {f"iou_{CLASS_NAMES[c]}": v for c, v in per_class.items()}


def load_vae(
    run_dir: str | Path, which: str = "best", device: str | torch.device = "cpu"
) -> tuple[HexPlaneVAE, dict]:
    """A trained VAE from RUN_DIR (checkpoint `best`, falling back to `last`) and its checkpoint meta."""
    folder = Path(run_dir) / "checkpoints"
    if which == "best" and not (folder / "best.json").is_file():
        which = "last"
    weights, meta = load_checkpoint(folder, which)
    cfg = VAERunConfig.from_dict(meta["config"])
    model = HexPlaneVAE(cfg.model)
    model.load_state_dict(weights)
    meta["checkpoint"] = str(folder / f"{which}.safetensors")
    return model.to(device).eval(), meta
