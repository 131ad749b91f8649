"""A trained model's checkpoint, read back from its run folder or a shipped name: the one place that picks a
checkpoint. `runs.loading` builds whole runs (VAE, DiT) on it; a fine-tune takes a VAE's weights from here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from torch import nn

from dynamiccity.shipped import resolve
from dynamiccity.train.checkpoint import Checkpoint, open_checkpoint
from dynamiccity.vae.config import VAEConfig
from dynamiccity.vae.model import HexPlaneVAE

M = TypeVar("M", bound=nn.Module)
R = TypeVar("R")


@dataclass(frozen=True)
class Trained(Generic[M, R]):
    """A trained model in eval mode, the run config it was trained with, and where its weights came from."""

    model: M
    config: R
    checkpoint: Path
    step: int


def checkpoint_name(run_dir: str | Path, which: str = "best") -> str:
    """`which`, except that a run without a `best` checkpoint (no validation yet) gives `last`."""
    folder = Path(run_dir) / "checkpoints"
    return "last" if which == "best" and not (folder / "best.json").is_file() else which


def load_run(run_dir: str | Path, which: str = "best") -> Checkpoint:
    """Run `run_dir`'s checkpoint `which` (best, else last)."""
    if not Path(run_dir).is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder.")
    return open_checkpoint(Path(run_dir) / "checkpoints", checkpoint_name(run_dir, which))


def run_config(ckpt: Checkpoint, kind: type, run_dir: str | Path):
    """The run config of kind `kind` a checkpoint was trained with; a run of another kind is refused by name."""
    try:
        return kind.from_dict(ckpt.meta["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{run_dir}: not a run of this kind ({str(err).rstrip('.')}).") from err


def pretrained_vae(weights: str | Path, which: str = "best") -> Trained[HexPlaneVAE, VAEConfig]:
    """The VAE model (eval mode, on the CPU) of a run folder or a shipped name, with its model config alone:
    what a fine-tune starts from, without the run config of the run that trained it."""
    run_dir = resolve("vae", weights)
    ckpt = load_run(run_dir, which)
    try:
        cfg = VAEConfig.from_dict(ckpt.meta["config"]["model"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{run_dir}: not a VAE run ({str(err).rstrip('.')}).") from err
    model = HexPlaneVAE(cfg)
    model.load_state_dict(ckpt.tensors())
    return Trained(model.eval(), cfg, ckpt.path(), ckpt.meta["step"])
