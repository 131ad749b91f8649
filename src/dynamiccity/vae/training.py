"""Starting or resuming a VAE run from the command line's choices."""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

from dynamiccity.train.config import TrainConfig, resolve_train, route_overrides
from dynamiccity.train.launch import launch_training
from dynamiccity.vae.config import VAEConfig, vae_preset
from dynamiccity.vae.run import DataSpec, LossSpec, VAERunConfig, VAETask

log = logging.getLogger(__name__)

DEFAULT_TRAIN = {"lr": 1e-3, "schedule": "step", "lr_step_every": 2000, "lr_gamma": 0.5, "grad_clip": 1.0}


def split_overrides(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Route each key=value to the model, train, data or loss section ('section.key' also works)."""
    sections = {
        "model": {f.name for f in fields(VAEConfig)},
        "train": {f.name for f in fields(TrainConfig)},
        "data": {f.name for f in fields(DataSpec)} - {"path", "format", "options"},
        "loss": {f.name for f in fields(LossSpec)},
    }
    return route_overrides(overrides, sections)


def resolve_run_config(
    preset: str,
    data: Path,
    format: str,
    steps: int | None,
    epochs: int | None,
    overrides: dict,
    options: dict,
) -> VAERunConfig:
    routed = split_overrides(overrides)
    model = vae_preset(preset).with_overrides(**routed["model"])
    train = resolve_train(DEFAULT_TRAIN, routed["train"], steps, epochs)
    spec = DataSpec(
        path=str(data), format=format, options={k: str(v) for k, v in options.items()}, **routed["data"]
    )
    return VAERunConfig(preset, model, train, spec, LossSpec(**routed["loss"]))


def train_vae_run(
    preset: str,
    data: Path,
    format: str,
    out: Path,
    steps: int | None,
    epochs: int | None,
    overrides: dict,
    resume: bool,
    options: dict,
    device: str | None = None,
) -> dict | None:
    """Train (or resume) a VAE run in `out`; returns the summary on rank 0."""
    return launch_training(
        out, resume, device, steps, epochs, VAERunConfig,
        lambda: resolve_run_config(preset, data, format, steps, epochs, overrides, options), VAETask,
    )  # fmt: skip
