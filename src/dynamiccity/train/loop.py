"""The training loop every model uses: AdamW, schedule, EMA, checkpoints, resume, DDP, TensorBoard."""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dynamiccity.atomic import write_text
from dynamiccity.device import autocast
from dynamiccity.train.checkpoint import open_checkpoint, restore_optimizer, save_checkpoint
from dynamiccity.train.config import TrainConfig
from dynamiccity.train.distributed import DistInfo, all_gather_floats, any_rank, barrier, gather_objects
from dynamiccity.train.rng import restore_rng, rng_states, seed_ranks

log = logging.getLogger(__name__)


class Task(Protocol):
    """What a model brings to the loop."""

    def build_model(self) -> nn.Module: ...

    def train_dataset(self) -> Any: ...

    def files(self) -> dict[str, str]:
        """Text files {name: content} the run folder keeps beside config.yaml."""
        ...

    @property
    def val_split(self) -> str:
        """What validation scores: "val" (held-out windows) or "train" (the data has no held-out split)."""
        ...

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]: ...

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """State of the task's own that training changes (a bank of latents, say), which a resumable
        checkpoint keeps beside the model and optimizer; empty when there is none. Equal on every rank."""
        ...

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what `state_tensors` gave, on every rank."""
        ...

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation metrics; the key "score" (higher is better) picks the best checkpoint."""
        ...


class Stateless:
    """What a task (or a part of one) that keeps no training state of its own answers to
    `Task.state_tensors` and its inverse."""

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        if tensors:
            raise ValueError(f"this run keeps no task state, but its checkpoint holds {sorted(tensors)[:3]}.")


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best: float = -math.inf
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def learning_rate(cfg: TrainConfig, step: int, total: int) -> float:
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "step":
        return cfg.lr * cfg.lr_gamma ** (step // cfg.lr_step_every)
    if cfg.schedule == "cosine":
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return cfg.lr


def ema_decay(target: float, step: int) -> float:
    """The EMA decay at `step`, warmed up as min(target, (1 + step) / (10 + step)).

    A fixed 0.9999 keeps e^-1 of the initial weights after 10,000 steps, which leaves short runs with an
    average of an untrained model; the warm-up lets the average follow early training and reach the target.
    """
    return min(target, (1.0 + step) / (10.0 + step))


def adamw(params, lr: float, weight_decay: float = 0.0) -> torch.optim.AdamW:
    """AdamW through its fused kernel where this PyTorch has one for the parameters' device (one pass over
    all tensors; the 43M-parameter `carlasc` DiT's update takes 0.03 s instead of 0.10 s on 2 CPU threads),
    else the default implementation. The two keep the same state, so checkpoints move between them
    (`restore_optimizer` keeps the running optimizer's choice)."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except RuntimeError:  # no fused kernel for this device in this PyTorch
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def update(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    cfg: TrainConfig,
    ema: nn.Module | None,
    step: int,
) -> dict[str, float]:
    """What a training step does after its forward pass: gradients of `loss`, clipped to `cfg.grad_clip`,
    the optimiser's step, and the EMA of the weights moved at its warmed-up decay for `step`
    (`ema_decay`). Returns {"grad_norm": ...} when clipping."""
    scalars = {}
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip:
        scalars["grad_norm"] = float(nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
    optimizer.step()
    if ema is not None:
        decay = ema_decay(cfg.ema, step)
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters(), strict=True):
                e.lerp_(p, 1.0 - decay)
    return scalars


def epoch_batches(n: int, cfg: TrainConfig, epoch: int, info: DistInfo) -> list[np.ndarray]:
    """This rank's batches of dataset indices for an epoch: a seeded shuffle split evenly across ranks."""
    order = np.random.default_rng([cfg.seed, epoch]).permutation(n)
    per_rank = len(order) // info.world_size
    mine = order[info.rank * per_rank : (info.rank + 1) * per_rank]
    return [mine[i : i + cfg.batch_size] for i in range(0, len(mine) - cfg.batch_size + 1, cfg.batch_size)]


class Trainer:
    """Runs `task` under `cfg`, writing checkpoints, TensorBoard scalars and summary.json to `run_dir`."""

    def __init__(self, task: Task, cfg: TrainConfig, run_dir: Path, info: DistInfo, run_config: dict) -> None:
        self.task, self.cfg, self.run_dir, self.info = task, cfg, Path(run_dir), info
        self.run_config = run_config
        self.ckpt_dir = self.run_dir / "checkpoints"
        torch.manual_seed(cfg.seed)
        self.model = task.build_model().to(info.device)
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False) if cfg.ema else None
        seed_ranks(cfg.seed, info)
        self.dataset = task.train_dataset()
        self.optimizer = adamw(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.ddp = DistributedDataParallel(self.model) if info.enabled else self.model
        self.state = TrainState()
        self.writer = None
        self._requested = False  # a stop was asked for on this rank (SIGTERM, Ctrl-C)
        self._stop = False  # a stop was asked for on some rank: every rank stops at the same step

    # ---- checkpoints -------------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        s = self.state
        return {
            "config": self.run_config,
            "step": s.step,
            "epoch": s.epoch,
            "batch_in_epoch": s.batch_in_epoch,
            "best": s.best,
            "metrics": s.metrics,
            "seconds": s.seconds,
        }

    def save(self, name: str, resumable: bool = True) -> None:
        """Write checkpoint `name` on rank 0; a resumable one (optimizer and every rank's random state) is a
        collective that every rank calls."""
        extra = {"rng": rng_states(self.info)} if resumable else {}
        if not self.info.is_main:
            return
        if self.ema is not None:
            extra["ema"] = self.ema.state_dict()
        task_state = self.task.state_tensors() if resumable else {}
        if task_state:
            extra["task"] = task_state
        optimizer = self.optimizer if resumable else None
        save_checkpoint(self.ckpt_dir, name, self.model.state_dict(), self._meta(), optimizer, extra)

    def resume(self) -> bool:
        """Load `last` if there is one; True when resumed."""
        if not (self.ckpt_dir / "last.json").is_file():
            return False
        ckpt = open_checkpoint(self.ckpt_dir, "last")
        meta = ckpt.meta
        self.model.load_state_dict(ckpt.tensors())
        restore_optimizer(self.optimizer, ckpt.tensors("optim"), meta["optimizer"])
        if self.ema is not None:
            self.ema.load_state_dict(ckpt.tensors("ema"))
        self.task.load_state_tensors(ckpt.tensors("task") if ckpt.has("task") else {})
        restore_rng(ckpt.tensors("rng"), self.info, self.cfg.seed, meta["step"])
        keys = ("step", "epoch", "batch_in_epoch", "best", "metrics", "seconds")
        self.state = TrainState(**{k: meta[k] for k in keys})
        log.info(
            "resumed from step %d (epoch %d, batch %d)",
            self.state.step,
            self.state.epoch,
            self.state.batch_in_epoch,
        )
        return True

    # ---- the loop ----------------------------------------------------------------------------------
    def total_steps(self) -> int:
        per_epoch = max(1, len(epoch_batches(len(self.dataset), self.cfg, 0, self.info)))
        if self.cfg.steps is not None:
            return self.cfg.steps
        return per_epoch * self.cfg.epochs

    def check_batches(self) -> None:
        """Refuse a run whose training windows are fewer than one batch per rank."""
        if not epoch_batches(len(self.dataset), self.cfg, 0, self.info):
            raise ValueError(
                f"{len(self.dataset)} training windows are fewer than one batch per rank (batch_size "
                f"{self.cfg.batch_size}, {self.info.world_size} rank(s))."
            )

    def _batches(self) -> Iterator[tuple[int, int, Any]]:
        """(epoch, batch index, collated batch), starting where the state says."""
        from torch.utils.data import default_collate

        epoch = self.state.epoch
        while True:
            batches = epoch_batches(len(self.dataset), self.cfg, epoch, self.info)
            if not batches:
                raise ValueError(f"{len(self.dataset)} training windows are fewer than one batch per rank.")
            start = self.state.batch_in_epoch if epoch == self.state.epoch else 0
            for i in range(start, len(batches)):
                yield epoch, i, default_collate([self.dataset[int(j)] for j in batches[i]])
            epoch += 1

    def train_step(self, batch: Any, lr: float) -> dict[str, float]:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.ddp.train()
        with autocast(self.info.device, self.cfg.bf16):
            loss, scalars = self.task.loss(self.ddp, batch)
        scalars.update(update(self.model, self.optimizer, loss, self.cfg, self.ema, self.state.step))
        return {"loss": float(loss.detach()), "lr": lr, **scalars}

    def validate(self) -> None:
        if self.info.is_main:
            model = self.ema if self.ema is not None else self.model
            metrics = self.task.evaluate(model)
            self.state.metrics = metrics
            for key, value in metrics.items():
                self._scalar(f"val/{key}", value)
            log.info("step %d validation: %s", self.state.step, _fmt(metrics))
            if metrics.get("score", -math.inf) > self.state.best:
                self.state.best = metrics["score"]
                self.save("best", resumable=False)
        barrier(self.info)

    def _scalar(self, key: str, value: float) -> None:
        if self.writer is not None:
            self.writer.add_scalar(key, value, self.state.step)

    def run(self, resume: bool = False) -> dict[str, Any]:
        from tqdm import tqdm

        if resume:
            self.resume()
        total = self.total_steps()
        if self.info.is_main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / "tb"))
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        bar = tqdm(total=total, initial=self.state.step, disable=not self.info.is_main, unit="step")
        try:
            self._loop(total, bar)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            bar.close()
        self.save("last")
        return self._finish(total)

    def _on_signal(self, signum, frame) -> None:
        """The first stop request ends the run after the step in progress, on every rank, with a checkpoint;
        a second Ctrl-C interrupts at once."""
        if self._requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self._requested = True

    def _loop(self, total: int, bar) -> None:
        start, epoch_seen = time.perf_counter(), self.state.epoch
        for epoch, index, batch in self._batches():
            if self.state.step >= total or self._stop:
                break
            if epoch != epoch_seen:
                self._end_epoch(epoch)
                epoch_seen = epoch
            scalars = self.train_step(batch, learning_rate(self.cfg, self.state.step, total))
            self.state.step += 1
            self.state.batch_in_epoch = index + 1
            self.state.seconds += time.perf_counter() - start
            start = time.perf_counter()
            self._stop = any_rank(self._requested, self.info)
            bar.update(1)
            bar.set_postfix(loss=f"{scalars['loss']:.4f}", refresh=False)
            if self.state.step % self.cfg.log_every == 0:
                for key, value in scalars.items():
                    self._scalar(f"train/{key}", value)
            if self.cfg.eval_every and self.state.step % self.cfg.eval_every == 0:
                self.validate()
            if self.state.step % self.cfg.ckpt_every == 0:
                self.save("last")

    def _end_epoch(self, new_epoch: int) -> None:
        self.state.epoch, self.state.batch_in_epoch = new_epoch, 0
        if not self.cfg.eval_every:
            self.validate()
        self.save("last")

    def _finish(self, total: int) -> dict[str, Any]:
        # a finished run validates its final weights unless its last step just did, so `best` considers them
        last_validated = self.cfg.eval_every and self.state.step % self.cfg.eval_every == 0
        if self.state.step >= total and not self._stop and not last_validated:
            self.validate()
            self.save("last")
        checksum = float(sum(p.detach().double().sum() for p in self.model.parameters()))
        summary = {
            **self._meta(),
            "total_steps": total,
            "stopped_early": self.state.step < total,
            "val_split": self.task.val_split,
            "rank_checksums": all_gather_floats([checksum], self.info),
            # where each rank's random stream stands: distinct streams draw distinct noise
            "rank_rng": gather_objects(
                hashlib.sha256(torch.get_rng_state().numpy()).hexdigest()[:16], self.info
            ),
        }
        if self.info.is_main:
            write_text(self.run_dir / "summary.json", _json(summary))
            if self.writer is not None:
                self.writer.close()
        return summary


def _fmt(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, int | float))


def _json(data: dict) -> str:
    import json

    return json.dumps(data, indent=1, default=float) + "\n"
