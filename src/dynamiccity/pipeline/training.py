"""Training a VAE or a DiT run, fresh or resumed, alone or under torchrun."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from dynamiccity.pipeline.dit_run import DiTRunConfig, DiTTask
from dynamiccity.pipeline.vae_run import VAERunConfig, VAETask
from dynamiccity.train.launch import launch_training


def train_vae(
    cfg: VAERunConfig, out: str | Path, resume: bool = False, device: str | None = None
) -> dict | None:
    """Train VAE run `cfg` in `out` (`resume`: from its last checkpoint); the summary on rank 0."""
    return launch_training(cfg, VAETask, out, resume, device)


def train_dit(
    cfg: DiTRunConfig, out: str | Path, resume: bool = False, device: str | None = None
) -> dict | None:
    """Train DiT run `cfg` in `out` (`resume`: from its last checkpoint); the summary on rank 0."""
    return launch_training(cfg, DiTTask, out, resume, device)


def resumed_config(out: str | Path, kind: type, steps: int | None = None, epochs: int | None = None):
    """The config of the run in `out` to resume (None when there is none yet), its length changed to
    `steps`/`epochs` where given."""
    path = Path(out) / "config.yaml"
    if not path.is_file():
        return None
    cfg = kind.load(path)
    length = {k: v for k, v in (("steps", steps), ("epochs", epochs)) if v is not None}
    return dataclasses.replace(cfg, train=cfg.train.with_overrides(**length))
