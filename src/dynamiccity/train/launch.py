"""Running a training run in a folder, alone or under torchrun: shared by every model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from dynamiccity.atomic import write_text
from dynamiccity.train.distributed import barrier, cleanup, setup_distributed
from dynamiccity.train.loop import Task, Trainer


def launch_training(
    cfg: Any,
    make_task: Callable[[Any, torch.device], Task],
    out: str | Path,
    resume: bool = False,
    device: str | None = None,
) -> dict | None:
    """Train run config `cfg` in `out` (continuing from its last checkpoint with `resume`); returns the
    summary on rank 0 (None on other ranks).

    `cfg` is a run config dataclass with `train` (a TrainConfig), `save` and `to_dict`; rank 0 writes it as
    OUT/config.yaml, with the files the task asks for (`Task.files`).
    """
    info = setup_distributed(device)
    try:
        if info.enabled and info.device.type == "cpu":
            torch.set_num_threads(max(1, torch.get_num_threads() // info.world_size))
        task = make_task(cfg, info.device)
        if info.is_main:
            Path(out).mkdir(parents=True, exist_ok=True)
            cfg.save(Path(out) / "config.yaml")
            for name, text in task.files().items():
                write_text(Path(out) / name, text)
        trainer = Trainer(task, cfg.train, Path(out), info, cfg.to_dict())
        summary = trainer.run(resume=resume)
        barrier(info)  # no rank leaves the process group while another still writes its files
        return summary if info.is_main else None
    finally:
        cleanup(info)
