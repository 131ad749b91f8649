"""Loading a trained model back from its run folder: the one place that picks a checkpoint."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from dynamiccity.data.egoframe import is_world
from dynamiccity.dit.model import HexPlaneDiT
from dynamiccity.runs.checkpoints import Trained, load_run, run_config
from dynamiccity.runs.dit import RUN_MANIFEST, DiTRunConfig
from dynamiccity.runs.egopaths import EgoPaths
from dynamiccity.runs.latents import LatentManifest, read_manifest
from dynamiccity.runs.vae import VAERunConfig
from dynamiccity.shipped import resolve
from dynamiccity.vae.model import HexPlaneVAE

log = logging.getLogger(__name__)
M = TypeVar("M", bound=nn.Module)
R = TypeVar("R")


@dataclass(frozen=True)
class TrainedDiT(Trained[HexPlaneDiT, DiTRunConfig]):
    """A trained DiT with the manifest of the latents it learned (statistics, the VAE's hash), and for a DiT
    of world-coordinate latents the ego paths its windows are shown along (`runs.egopaths`)."""

    manifest: LatentManifest
    paths: EgoPaths | None = None


def load_vae(
    run_dir: str | Path, which: str = "best", device: str | torch.device = "cpu"
) -> Trained[HexPlaneVAE, VAERunConfig]:
    """A trained VAE from RUN_DIR (checkpoint `best`, falling back to `last`), or the shipped VAE of that
    name (`dynamiccity.shipped`, e.g. "synthtown")."""
    run_dir = resolve("vae", run_dir)
    ckpt = load_run(run_dir, which)
    cfg = run_config(ckpt, VAERunConfig, run_dir)
    model = HexPlaneVAE(cfg.model)
    model.load_state_dict(ckpt.tensors())
    return Trained(model.to(device).eval(), cfg, ckpt.path(), ckpt.meta["step"])


def load_dit(
    run_dir: str | Path, which: str = "best", ema: bool = True, device: str | torch.device = "cpu"
) -> TrainedDiT:
    """A trained DiT (its EMA weights when the run kept them) and the manifest of the latents it learned:
    the run's own copy, or for runs older than that copy, the latent folder's. RUN_DIR may name a shipped
    DiT (`dynamiccity.shipped`, e.g. "synthtown")."""
    run_dir = resolve("dit", run_dir)
    ckpt = load_run(run_dir, which)
    cfg = run_config(ckpt, DiTRunConfig, run_dir)
    model = HexPlaneDiT(cfg.model)
    # shipped DiTs keep their EMA weights only
    part = "ema" if (ema and ckpt.has("ema")) or not ckpt.has("model") else "model"
    model.load_state_dict(ckpt.tensors(part))
    own, shared = Path(run_dir) / RUN_MANIFEST, Path(cfg.latents) / "manifest.json"
    if not own.is_file() and not shared.is_file():
        raise FileNotFoundError(f"{own}: missing, and so is the manifest of the run's latents ({shared}).")
    manifest = read_manifest(own if own.is_file() else shared)
    paths = EgoPaths.read(run_dir) if is_world(manifest.coordinates) else None
    return TrainedDiT(model.to(device).eval(), cfg, ckpt.path(part), ckpt.meta["step"], manifest, paths)
