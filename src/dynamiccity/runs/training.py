"""Training a VAE or a DiT run, fresh or resumed, alone or under torchrun."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dynamiccity.runs.dit import DiTRunConfig, DiTTask
from dynamiccity.runs.evaluator import EvaluatorRunConfig, EvaluatorTask
from dynamiccity.runs.recipes import RunRequest, dit_run_config, evaluator_run_config, vae_run_config
from dynamiccity.runs.vae import VAERunConfig, VAETask
from dynamiccity.train.launch import launch_training

LIVE_KEYS = ("steps", "epochs", "log_every", "ckpt_every", "eval_every")
"""Train keys a resumed run may change: how long it runs and how often it logs, saves and validates."""


def train_vae(
    cfg: VAERunConfig,
    out: str | Path,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
) -> dict | None:
    """Train VAE run `cfg` in `out`; see `launch_training` for `resume` and `overwrite`. The summary on rank 0."""
    return launch_training(cfg, VAETask, out, resume, overwrite, device)


def train_dit(
    cfg: DiTRunConfig,
    out: str | Path,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
) -> dict | None:
    """Train DiT run `cfg` in `out`; see `launch_training` for `resume` and `overwrite`. The summary on rank 0."""
    return launch_training(cfg, DiTTask, out, resume, overwrite, device)


def train_evaluator(
    cfg: EvaluatorRunConfig,
    out: str | Path,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
) -> dict | None:
    """Train evaluator run `cfg` in `out` (see `launch_training`). The summary on rank 0."""
    return launch_training(cfg, EvaluatorTask, out, resume, overwrite, device)


def resumed_config(out: str | Path, kind: type, request: RunRequest) -> Any:
    """The config of the run in `out` (None when there is none yet), with the changes `request` may make to
    a run in progress: its `LIVE_KEYS`. Anything else that differs from the saved run is refused by name."""
    path = Path(out) / "config.yaml"
    if not path.is_file():
        return None
    saved = kind.load(path)
    if request.config_file is not None:
        raise ValueError(f"{path}: --resume continues this config; --config starts a new run.")
    if request.preset is not None and request.preset != saved.preset:
        raise ValueError(f"{path}: the run was started with preset {saved.preset!r}, not {request.preset!r}.")
    changes = {k: v for k, v in request.explicit.get("train", {}).items()}
    for key, value in request.overrides.items():
        section, _, name = key.rpartition(".")
        if name in LIVE_KEYS:
            changes[name] = value
        elif _saved_value(saved.to_dict(), section, name) != value:
            raise ValueError(f"--set {key}: a resumed run can change only {', '.join(LIVE_KEYS)}.")
    _check_unchanged(saved.to_dict(), {k: v for k, v in request.explicit.items() if k != "train"}, path)
    return dataclasses.replace(saved, train=saved.train.with_overrides(**changes))


def _saved_value(saved: dict[str, Any], section: str, name: str) -> Any:
    """The saved value of `name` (in `section`, or wherever it is when no section is named)."""
    places = [saved] + [v for k, v in saved.items() if isinstance(v, dict) and section in ("", k)]
    values = [place[name] for place in places if name in place and (place is not saved or not section)]
    value = values[0] if values else None
    return list(value) if isinstance(value, tuple) else value


def _check_unchanged(saved: dict[str, Any], given: dict[str, Any], path: Path, prefix: str = "") -> None:
    """Refuse a command-line value (data, latents) that differs from the one the run was started with."""
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(saved.get(key), dict):
            _check_unchanged(saved[key], value, path, f"{prefix}{key}.")
        elif saved.get(key) != value:
            raise ValueError(
                f"{path}: the run was started with {prefix}{key} = {saved.get(key)!r}, not {value!r}."
            )


@dataclass(frozen=True)
class RunKind:
    """What a kind of training run is made of: its config type, how a request resolves to one, its task."""

    config: type
    resolve: Callable[[RunRequest], Any]
    task: type


VAE_RUN = RunKind(VAERunConfig, vae_run_config, VAETask)
DIT_RUN = RunKind(DiTRunConfig, dit_run_config, DiTTask)
EVALUATOR_RUN = RunKind(EvaluatorRunConfig, evaluator_run_config, EvaluatorTask)


def start_run(
    kind: RunKind,
    request: RunRequest,
    out: str | Path,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
) -> dict | None:
    """What `train-vae`, `train-dit` and `train-evaluator` do: continue the run in `out` (`resume`, with
    the changes `resumed_config` allows) or start the one `request` describes. The summary on rank 0."""
    cfg = resumed_config(out, kind.config, request) if resume else None
    return launch_training(cfg or kind.resolve(request), kind.task, out, resume, overwrite, device)
