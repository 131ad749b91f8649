"""Starting or resuming a DiT run from the command line's choices."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from dynamiccity.diffusion import DiffusionConfig
from dynamiccity.dit.config import DiTConfig, dit_preset
from dynamiccity.dit.latents import LatentSet
from dynamiccity.dit.run import DiTRunConfig, DiTTask
from dynamiccity.train.config import TrainConfig, resolve_train, route_overrides
from dynamiccity.train.launch import launch_training

# the release's recipe: AdamW 1e-4, constant rate, EMA 0.9999 (set ema lower for short runs)
DEFAULT_TRAIN = {"lr": 1e-4, "schedule": "constant", "ema": 0.9999, "grad_clip": 1.0, "eval_every": 500}


def resolve_dit_config(
    preset: str, latents: Path, steps: int | None, epochs: int | None, overrides: dict[str, Any]
) -> DiTRunConfig:
    """The preset's network at the latent set's sizes, with `overrides` routed to their sections."""
    sections = {
        "model": {f.name for f in fields(DiTConfig)} - {"latent_channels", "latent_sizes"},
        "diffusion": {f.name for f in fields(DiffusionConfig)},
        "train": {f.name for f in fields(TrainConfig)},
        "run": {"val_windows", "loss_weight"},
    }
    routed = route_overrides(overrides, sections)
    data = LatentSet(latents)
    model = dit_preset(preset).with_overrides(
        latent_channels=data.channels, latent_sizes=data.sizes, **routed["model"]
    )
    train = resolve_train(DEFAULT_TRAIN, routed["train"], steps, epochs)
    return DiTRunConfig(
        preset,
        model,
        DiffusionConfig(**routed["diffusion"]),
        train,
        str(latents),
        **routed["run"],
    )


def train_dit_run(
    preset: str,
    latents: Path,
    out: Path,
    steps: int | None,
    epochs: int | None,
    overrides: dict,
    resume: bool,
    device: str | None = None,
) -> dict | None:
    """Train (or resume) a DiT run in `out` with the shared Trainer; returns the summary on rank 0."""
    return launch_training(
        out, resume, device, steps, epochs, DiTRunConfig,
        lambda: resolve_dit_config(preset, latents, steps, epochs, overrides), DiTTask,
    )  # fmt: skip
