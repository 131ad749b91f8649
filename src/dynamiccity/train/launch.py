"""Running a training run in a folder, alone or under torchrun: shared by every model."""

from __future__ import annotations

import shutil
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
    overwrite: bool = False,
    device: str | None = None,
) -> dict | None:
    """Train run config `cfg` in `out`; returns the summary on rank 0 (None on other ranks).

    A folder that already holds a run is refused unless `resume` (continue from its last checkpoint) or
    `overwrite` (remove that run's files first). `cfg` is a run config dataclass with `train` (a
    TrainConfig), `save` and `to_dict`; rank 0 writes it as OUT/config.yaml, with the files the task asks
    for (`Task.files`).
    """
    info = setup_distributed(device)
    try:
        out = Path(out)
        holds_run = (out / "config.yaml").is_file() or (out / "checkpoints").is_dir()
        if holds_run and not (resume or overwrite):
            raise ValueError(f"{out}: holds a run already; --resume continues it, --overwrite replaces it.")
        barrier(info)  # every rank has looked before rank 0 changes anything
        if holds_run and overwrite and not resume and info.is_main:
            remove_run(out)
        if info.enabled and info.device.type == "cpu":
            torch.set_num_threads(max(1, torch.get_num_threads() // info.world_size))
        task = make_task(cfg, info.device)
        trainer = Trainer(task, cfg.train, out, info, cfg.to_dict())
        trainer.check_batches()  # refused before anything is written
        if info.is_main:
            out.mkdir(parents=True, exist_ok=True)
            cfg.save(out / "config.yaml")
            for name, text in task.files().items():
                write_text(out / name, text)
        summary = trainer.run(resume=resume)
        barrier(info)  # no rank leaves the process group while another still writes its files
        return summary if info.is_main else None
    finally:
        cleanup(info)


RUN_FILES = ("checkpoints", "tb", "config.yaml", "summary.json")


def remove_run(out: Path) -> None:
    """Remove what a training run writes in `out`: checkpoints, TensorBoard logs, config.yaml and
    summary.json (a task's own files are written anew when a run starts); other files stay."""
    for name in RUN_FILES:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
