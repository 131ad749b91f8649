"""A DiT run: its resolved configuration and its training task for the shared Trainer."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import torch
from torch import nn

from dynamiccity.config import YamlRunFile
from dynamiccity.data.windows import TRAIN_SPLITS, VAL_SPLITS
from dynamiccity.diffusion.process import Diffusion, DiffusionConfig
from dynamiccity.dit.config import DiTConfig
from dynamiccity.dit.model import HexPlaneDiT
from dynamiccity.dit.rollout import LOSS_WEIGHTS, build_rollout, loss_weight
from dynamiccity.pipeline.latents import LatentSet
from dynamiccity.train.config import TrainConfig

log = logging.getLogger(__name__)
RUN_MANIFEST = "latent_manifest.json"
"""The run's own copy of its latent set's manifest: statistics and VAE hash, so sampling needs no latents."""


@dataclass(frozen=True)
class DiTRunConfig(YamlRunFile):
    """Everything that defines a DiT run; saved as RUN_DIR/config.yaml and inside every checkpoint."""

    preset: str
    model: DiTConfig
    diffusion: DiffusionConfig
    train: TrainConfig
    latents: str
    val_windows: int = 16
    loss_weight: str = "uniform"

    label = "DiT run config"

    def __post_init__(self) -> None:
        if self.loss_weight not in LOSS_WEIGHTS:
            raise ValueError(f"loss_weight must be one of {LOSS_WEIGHTS}, got {self.loss_weight!r}.")


class DiTTask:
    """Denoising training on rolled-out, normalised HexPlanes; validation = masked loss on held-out latents."""

    def __init__(self, cfg: DiTRunConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.train_data = LatentSet(cfg.latents, TRAIN_SPLITS)
        if len(self.train_data) == 0:
            raise ValueError(f"{cfg.latents}: no training windows in the latent set.")
        val = LatentSet(cfg.latents, VAL_SPLITS)
        self.val_split = "val" if len(val) else "train"
        self.val_data = val if len(val) else self.train_data
        if not len(val):
            log.warning("%s: no held-out windows; validation scores training windows", cfg.latents)
        self.diffusion = Diffusion(cfg.diffusion)
        self.rollout = build_rollout(cfg.model.rollout, cfg.model.latent_sizes, cfg.model.patch)
        # the run's loss weighting, and the uniform one (the real-position mask) that validation always reports
        self.weights = {
            kind: loss_weight(self.rollout, kind).to(device)
            for kind in dict.fromkeys(("uniform", cfg.loss_weight))
        }

    def build_model(self) -> nn.Module:
        return HexPlaneDiT(self.cfg.model)

    def train_dataset(self) -> LatentSet:
        return self.train_data

    def files(self) -> dict[str, str]:
        """The run keeps a copy of its latents' manifest (`RUN_MANIFEST`)."""
        return {RUN_MANIFEST: json.dumps(self.train_data.manifest.to_dict(), indent=1) + "\n"}

    def maps(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.rollout.roll(LatentSet.hexplane(batch)).to(self.device)

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
        x0 = self.maps(batch)
        return self.diffusion.loss(model, x0, weight=self.weights[self.cfg.loss_weight]), {}

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Masked denoising loss over up to `val_windows` held-out windows, with fixed noise and timesteps.

        `val_loss` weighs every real position alike, whatever the run trains with, so runs compare; the
        score is the loss the run trains on.
        """
        from torch.utils.data import default_collate

        n = min(len(self.val_data), self.cfg.val_windows)
        x0 = self.maps(default_collate([self.val_data[i] for i in range(n)]))
        model.eval()
        losses = {}
        for kind, weight in self.weights.items():
            g = torch.Generator(device=self.device).manual_seed(0)
            losses[kind] = float(self.diffusion.loss(model, x0, generator=g, weight=weight))
        metrics = {"score": -losses[self.cfg.loss_weight], "val_loss": losses["uniform"]}
        if self.cfg.loss_weight != "uniform":
            metrics[f"val_loss_{self.cfg.loss_weight}"] = losses[self.cfg.loss_weight]
        return metrics
