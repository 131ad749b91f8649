"""Optimisation settings shared by every trainer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dynamiccity.config import StrictConfig

Schedule = Literal["constant", "step", "cosine"]


@dataclass(frozen=True)
class TrainConfig(StrictConfig):
    """steps or epochs bound the run (steps wins when both are set). Learning rate: `lr`, linear warm-up
    over `warmup_steps`, then "step" (x `lr_gamma` every `lr_step_every` steps), "cosine" or "constant".
    `ema`: decay of an exponential moving average of the weights (warmed up, see `loop.ema_decay`), or
    None. `eval_every`: steps between validations (None: at the end of every epoch). `bf16`: autocast to bfloat16 where it pays (CUDA, and
    CPUs with native bf16; see `dynamiccity.device.bf16_pays`)."""

    label = "train config"
    retired = frozenset({"num_workers"})

    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: Schedule = "step"
    lr_step_every: int = 1000
    lr_gamma: float = 0.5
    warmup_steps: int = 0
    grad_clip: float | None = 1.0
    ema: float | None = None
    log_every: int = 10
    ckpt_every: int = 100
    eval_every: int | None = None
    seed: int = 0
    bf16: bool = True

    def __post_init__(self) -> None:
        if self.steps is None and self.epochs is None:
            raise ValueError("set steps or epochs.")
        if self.schedule not in Schedule.__args__:
            raise ValueError(f"schedule must be one of {Schedule.__args__}, got {self.schedule!r}.")
