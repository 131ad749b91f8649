"""An evaluator run: training the generation metrics' feature extractors on real scenes, loading them back."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dynamiccity.config import YamlRunFile
from dynamiccity.data.windows import WindowDataset
from dynamiccity.evaluator import HEADS, Evaluator, EvaluatorConfig, bev_classes, protocol, render_window
from dynamiccity.metrics import ConfusionMatrix
from dynamiccity.runs.checkpoints import Trained, load_run, run_config
from dynamiccity.runs.datasets import DataSpec, check_grid, open_windows
from dynamiccity.runs.vae import frequency_counts
from dynamiccity.shipped import resolve
from dynamiccity.train.config import TrainConfig
from dynamiccity.train.loop import Stateless
from dynamiccity.vae.losses import class_weights, lovasz_softmax

log = logging.getLogger(__name__)
PROTOCOL = "protocol.json"


@dataclass(frozen=True)
class EvaluatorRunConfig(YamlRunFile):
    """Everything that defines an evaluator run; saved as EVAL_DIR/config.yaml and in every checkpoint.

    recon_frames: frames of each window the autoencoder reconstructs in a training step (every frame gives
    features; reconstructing a few keeps the step cheap). class_weight_power: the reconstruction's CE
    weights each class by (max_share / share) ** power over the training frames' voxels, as the VAE's does
    (`vae.losses.class_weights`; 0, the default: unweighted, so thin classes such as poles and pedestrians
    weigh as little as their voxels). init: a trained evaluator (run folder, its best checkpoint) whose
    weights the run starts from; its model config must be this run's.
    """

    label = "evaluator run config"

    model: EvaluatorConfig
    train: TrainConfig
    data: DataSpec
    recon_frames: int = 4
    class_weight_power: float = 0.0
    init: str | None = None

    def __post_init__(self) -> None:
        if self.class_weight_power < 0:
            raise ValueError(f"class_weight_power must be >= 0, got {self.class_weight_power}.")


class EvaluatorWindows:
    """Windows with their renders and head targets: item -> {labels, bev, view, <head>: class or -1}.

    Targets: `layout` and `density` from the scene's metadata (SynthTown writes them), `command` from the
    window's poses; -1 where the data does not say. Renders are made once per window and kept.
    """

    def __init__(self, windows: WindowDataset, cfg: EvaluatorConfig) -> None:
        self.windows, self.cfg = windows, cfg
        self._renders: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.windows)

    def targets(self, window) -> dict[str, int]:
        """Each head's class index for `window`, -1 where the data does not say."""
        meta = self.windows.scenes[window.scene].meta
        commands = HEADS["command"]
        values = {
            "layout": meta.get("layout"),
            "density": meta.get("density"),
            "command": commands[window.command] if 0 <= window.command < len(commands) else None,
        }
        return {h: HEADS[h].index(values[h]) if values[h] in HEADS[h] else -1 for h in self.cfg.heads}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        window = self.windows[i]
        if i not in self._renders:
            self._renders[i] = render_window(window.labels, self.cfg)
        bev, view = self._renders[i]
        targets = {k: torch.tensor(v) for k, v in self.targets(window).items()}
        return {
            "labels": torch.from_numpy(window.labels),
            "bev": torch.from_numpy(bev),
            "view": torch.from_numpy(view),
            **targets,
        }


def _open(cfg: EvaluatorRunConfig, split: str) -> EvaluatorWindows:
    windows = open_windows(cfg.data, cfg.model.frames, split, default_stride=cfg.model.frames)
    check_grid(windows, cfg.model)
    return EvaluatorWindows(windows, cfg.model)


class EvaluatorTask(Stateless):
    """Training task for the shared Trainer: reconstruction (CE + Lovasz) and the heads' classification."""

    def __init__(self, cfg: EvaluatorRunConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.train_data = _open(cfg, "train")
        if len(self.train_data) == 0:
            raise ValueError(f"{cfg.data.path}: no training windows of {cfg.model.frames} frames.")
        val = _open(cfg, "val")
        self.val_split = "val" if len(val) else "train"
        self.val_data = val if len(val) else self.train_data
        if not len(val):
            log.warning("%s: no held-out windows; validation scores training windows", cfg.data.path)
        self.weights = None
        if cfg.class_weight_power > 0:
            counts = frequency_counts(self.train_data.windows, 256)[: cfg.model.num_classes]
            self.weights = class_weights(counts, cfg.class_weight_power).to(device)
            log.info("class weights %s", np.round(self.weights.cpu().numpy(), 3).tolist())

    def build_model(self) -> nn.Module:
        model = Evaluator(self.cfg.model)
        if self.cfg.init is not None:
            start = load_evaluator(self.cfg.init)
            if start.config.model != self.cfg.model:
                raise ValueError(f"{self.cfg.init}: its model config differs from this run's; init keeps it.")
            model.load_state_dict(start.model.state_dict())
        return model

    def train_dataset(self) -> EvaluatorWindows:
        return self.train_data

    def files(self) -> dict[str, str]:
        return {PROTOCOL: json.dumps(protocol(self.cfg.model), indent=1) + "\n"}

    def _recon(self) -> list[int]:
        t, n = self.cfg.model.frames, min(self.cfg.recon_frames, self.cfg.model.frames)
        return sorted(torch.randperm(t)[:n].tolist())

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
        labels = batch["labels"].to(self.device).long()
        recon = self._recon()
        out = model(labels, batch["bev"].to(self.device), batch["view"].to(self.device), recon)
        logits = out.logits3d.movedim(2, -1).reshape(-1, self.cfg.model.num_classes)
        target = labels[:, recon].reshape(-1)
        ce = F.cross_entropy(logits, target, weight=self.weights)
        lovasz = lovasz_softmax(logits.float().softmax(-1), target)
        heads = sum(
            F.cross_entropy(o[h], batch[h].to(self.device), ignore_index=-1)
            for o in (out.heads3d, out.heads2d)
            for h in self.cfg.model.heads
            if (batch[h] >= 0).any()
        )
        total = ce + self.cfg.model.lovasz_weight * lovasz + heads
        scalars = {"ce": ce, "lovasz": lovasz, "heads": heads}
        if out.logits_bev is not None:
            scalars["bev"] = F.cross_entropy(
                out.logits_bev.movedim(2, -1).flatten(0, -2), _bev_target(self.cfg, labels).reshape(-1)
            )
            total = total + scalars["bev"]
        return total, {k: float(torch.as_tensor(v).detach()) for k, v in scalars.items()}

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Held-out reconstruction mIoU, each head's accuracy (3D and 2D) and, with a BEV decoder, its mIoU;
        the score is their mean."""
        model.eval()
        k = self.cfg.model.num_classes
        cm, cm_bev, hits, counts = ConfusionMatrix(k), ConfusionMatrix(k), {}, {}
        for i in range(min(len(self.val_data), self.cfg.data.val_windows)):
            item = self.val_data[i]
            out = model(
                item["labels"][None].to(self.device).long(), item["bev"][None].to(self.device),
                item["view"][None].to(self.device), list(self.cfg.model.bev_frames),
            )  # fmt: skip
            cm.update(out.logits3d[0].argmax(1).cpu(), item["labels"][list(self.cfg.model.bev_frames)])
            if out.logits_bev is not None:
                cm_bev.update(out.logits_bev[0].argmax(1).cpu(), _bev_target(self.cfg, item["labels"][None]))
            for kind, heads in (("3d", out.heads3d), ("2d", out.heads2d)):
                for h, logit in heads.items():
                    if int(item[h]) >= 0:
                        key = f"acc_{kind}_{h}"
                        hits[key] = hits.get(key, 0) + int(logit.argmax(1).item() == int(item[h]))
                        counts[key] = counts.get(key, 0) + 1
        metrics = {"miou": cm.compute()["miou"], **{k: hits[k] / counts[k] for k in hits}}
        if self.cfg.model.bev_decoder:
            metrics["bev_miou"] = cm_bev.compute()["miou"]
        metrics["score"] = float(np.mean(list(metrics.values())))
        return metrics


def _bev_target(cfg: EvaluatorRunConfig, labels: torch.Tensor) -> torch.Tensor:
    """Windows (B, T, X, Y, Z) -> the BEV frames' top classes (B * F, X, Y)."""
    return bev_classes(labels[:, list(cfg.model.bev_frames)].flatten(0, 1).long())


def load_evaluator(
    path: str | Path, device: str | torch.device = "cpu"
) -> Trained[Evaluator, EvaluatorRunConfig]:
    """A trained evaluator from its run folder (best checkpoint, else last) or a shipped one's name
    (`dynamiccity.shipped`: "synthtown")."""
    path = resolve("evaluator", path)
    ckpt = load_run(path)
    cfg = run_config(ckpt, EvaluatorRunConfig, path)
    model = Evaluator(cfg.model)
    model.load_state_dict(ckpt.tensors())
    return Trained(model.to(device).eval(), cfg, ckpt.path(), ckpt.meta["step"])
