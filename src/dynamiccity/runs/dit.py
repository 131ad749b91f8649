"""A DiT run: its resolved configuration and its training task for the shared Trainer."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import torch
from torch import nn

from dynamiccity.config import YamlRunFile
from dynamiccity.data.egoframe import is_world
from dynamiccity.data.windows import TRAIN_SPLITS, VAL_SPLITS
from dynamiccity.diffusion.process import Diffusion, DiffusionConfig
from dynamiccity.dit.conditions import Conditions
from dynamiccity.dit.config import DiTConfig
from dynamiccity.dit.model import HexPlaneDiT
from dynamiccity.dit.rollout import LOSS_WEIGHTS, build_rollout, loss_weight
from dynamiccity.runs.egopaths import EGO_PATHS, EgoPaths
from dynamiccity.runs.latents import FRAME, LatentSet
from dynamiccity.train.config import TrainConfig
from dynamiccity.train.loop import Stateless

log = logging.getLogger(__name__)
RUN_MANIFEST = "latent_manifest.json"
"""The run's own copy of its latent set's manifest: statistics and VAE hash, so sampling needs no latents."""


@dataclass(frozen=True)
class DiTRunConfig(YamlRunFile):
    """Everything that defines a DiT run; saved as RUN_DIR/config.yaml and inside every checkpoint.

    condition_dropout: the probability with which training drops each of the network's conditions to its
    null condition, independently per condition and window (classifier-free guidance). unconditional: the
    share of windows trained with every condition null at once; independent dropout alone almost never
    does that with several conditions (0.1^5 with five), and unconditional sampling needs it.
    """

    preset: str
    model: DiTConfig
    diffusion: DiffusionConfig
    train: TrainConfig
    latents: str
    val_windows: int = 16
    loss_weight: str = "uniform"
    condition_dropout: float = 0.1
    unconditional: float = 0.1

    label = "DiT run config"

    def __post_init__(self) -> None:
        if self.loss_weight not in LOSS_WEIGHTS:
            raise ValueError(f"loss_weight must be one of {LOSS_WEIGHTS}, got {self.loss_weight!r}.")
        for name in ("condition_dropout", "unconditional"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}.")


class DiTTask(Stateless):
    """Denoising training on rolled-out, normalised HexPlanes; validation = masked loss on held-out latents."""

    def __init__(self, cfg: DiTRunConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.train_data = LatentSet(cfg.latents, TRAIN_SPLITS)
        if len(self.train_data) == 0:
            raise ValueError(f"{cfg.latents}: no training windows in the latent set.")
        if "previous" in cfg.model.placed and not self.train_data.manifest.previous_planes:
            raise ValueError(
                f"{cfg.latents}: a placed previous window needs latents in world coordinates (encode "
                "--coordinates world or centred), where it is seen from where the window is; these are in the "
                "ego's."
            )
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
        """The run keeps a copy of its latents' manifest (`RUN_MANIFEST`), and for latents in world
        coordinates the ego paths of its training windows (`EGO_PATHS`), to show generated windows along."""
        manifest = self.train_data.manifest
        files = {RUN_MANIFEST: json.dumps(manifest.to_dict(), indent=1) + "\n"}
        if is_world(manifest.coordinates):
            given = self.train_data.conditions
            paths = EgoPaths.of_windows(given["trajectory"].numpy(), given["command"].numpy())
            files[EGO_PATHS] = paths.to_json()
        return files

    def maps(self, batch: dict[str, torch.Tensor], prefix: str = "") -> torch.Tensor:
        return self.rollout.roll(LatentSet.hexplane(batch, prefix)).to(self.device)

    def conditions(self, batch: dict[str, torch.Tensor]) -> Conditions | None:
        """The network's conditions of a batch; null where a window has none (no previous window, no poses)."""
        names = self.cfg.model.conditions
        if not names:
            return None
        given, null = {}, {}
        if "command" in names:
            command = batch["command"].to(self.device)
            given["command"], null["command"] = command.clamp_min(0), command < 0
        if "trajectory" in names:
            trajectory = batch["trajectory"].to(self.device)
            known = torch.isfinite(trajectory).flatten(1).all(1)
            given["trajectory"], null["trajectory"] = trajectory.nan_to_num(0.0), ~known
        if "layout" in names:
            given["layout"] = batch["layout"].to(self.device)
        if "previous" in names:
            given["previous"], null["previous"] = (
                self.maps(batch, "previous_"),
                ~batch["has_previous"].to(self.device),
            )
        if "frame" in names:
            given["frame"] = self.maps(batch, FRAME)
        return Conditions(**given, null=null)

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
        x0, cond = self.maps(batch), self.conditions(batch)
        if cond is not None:
            cond = cond.dropped(self.cfg.condition_dropout, self.cfg.unconditional)
        denoiser = model if cond is None else (lambda x, t: model(x, t, cond))
        return self.diffusion.loss(denoiser, x0, weight=self.weights[self.cfg.loss_weight]), {}

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Masked denoising loss over up to `val_windows` held-out windows, with fixed noise and timesteps.

        `val_loss` weighs every real position alike, whatever the run trains with, so runs compare; the
        score is the loss the run trains on.
        """
        from torch.utils.data import default_collate

        n = min(len(self.val_data), self.cfg.val_windows)
        batch = default_collate([self.val_data[i] for i in range(n)])
        x0, cond = self.maps(batch), self.conditions(batch)
        denoiser = model if cond is None else (lambda x, t: model(x, t, cond))
        model.eval()
        losses = {}
        for kind, weight in self.weights.items():
            g = torch.Generator(device=self.device).manual_seed(0)
            losses[kind] = float(self.diffusion.loss(denoiser, x0, generator=g, weight=weight))
        metrics = {"score": -losses[self.cfg.loss_weight], "val_loss": losses["uniform"]}
        if self.cfg.loss_weight != "uniform":
            metrics[f"val_loss_{self.cfg.loss_weight}"] = losses[self.cfg.loss_weight]
        return metrics
