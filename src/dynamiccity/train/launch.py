"""Starting or resuming a training run in a folder, alone or under torchrun: shared by every model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from dynamiccity.train.distributed import barrier, cleanup, setup_distributed
from dynamiccity.train.loop import Task, Trainer


def launch_training(
    out: Path,
    resume: bool,
    device: str | None,
    steps: int | None,
    epochs: int | None,
    run_config: type,
    fresh: Callable[[], Any],
    make_task: Callable[[Any, torch.device], Task],
) -> dict | None:
    """Train the run in `out`; returns the summary on rank 0 (None on other ranks).

    With `resume` and an existing RUN/config.yaml, that config is loaded (`run_config.load`) and only its
    length changes (`steps`/`epochs` when given); otherwise `fresh()` builds a new one. The config must be
    a dataclass with `train` (a TrainConfig), `save`, and `to_dict`.
    """
    info = setup_distributed(device)
    try:
        config_path = Path(out) / "config.yaml"
        if resume and config_path.is_file():
            cfg = run_config.load(config_path)
            extend = {k: v for k, v in (("steps", steps), ("epochs", epochs)) if v is not None}
            cfg = dataclasses.replace(cfg, train=cfg.train.with_overrides(**extend))
        else:
            cfg = fresh()
        if info.enabled and info.device.type == "cpu":
            torch.set_num_threads(max(1, torch.get_num_threads() // info.world_size))
        if info.is_main:
            Path(out).mkdir(parents=True, exist_ok=True)
            cfg.save(config_path)
        trainer = Trainer(make_task(cfg, info.device), cfg.train, Path(out), info, cfg.to_dict())
        summary = trainer.run(resume=resume)
        barrier(info)  # no rank leaves the process group while another still writes its files
        return summary if info.is_main else None
    finally:
        cleanup(info)
