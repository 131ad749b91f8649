"""Starting or resuming a VAE run from the command line's choices."""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from dynamiccity.train.config import TrainConfig, route_overrides
from dynamiccity.train.distributed import cleanup, setup_distributed
from dynamiccity.train.loop import Trainer
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
    train = {**DEFAULT_TRAIN, **routed["train"]}
    if steps is not None:
        train["steps"] = steps
    if epochs is not None:
        train["epochs"] = epochs
    if "steps" not in train and "epochs" not in train:
        raise ValueError("say how long to train: --steps N or --epochs N.")
    spec = DataSpec(
        path=str(data), format=format, options={k: str(v) for k, v in options.items()}, **routed["data"]
    )
    return VAERunConfig(preset, model, TrainConfig(**train), spec, LossSpec(**routed["loss"]))


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
    info = setup_distributed(device)
    try:
        config_path = Path(out) / "config.yaml"
        if resume and config_path.is_file():
            cfg = VAERunConfig.load(config_path)
            extend = {k: v for k, v in (("steps", steps), ("epochs", epochs)) if v is not None}
            cfg = VAERunConfig(cfg.preset, cfg.model, cfg.train.with_overrides(**extend), cfg.data, cfg.loss)
        else:
            cfg = resolve_run_config(preset, data, format, steps, epochs, overrides, options)
        if info.enabled and info.device.type == "cpu":
            torch.set_num_threads(max(1, torch.get_num_threads() // info.world_size))
        if info.is_main:
            Path(out).mkdir(parents=True, exist_ok=True)
            cfg.save(config_path)
        trainer = Trainer(VAETask(cfg, info.device), cfg.train, Path(out), info, cfg.to_dict())
        summary = trainer.run(resume=resume)
        return summary if info.is_main else None
    finally:
        cleanup(info)
