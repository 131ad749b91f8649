"""How much a conditional DiT listens to each condition: its held-out denoising loss per set of conditions.

The held-out windows of the run's latents are noised `repeats` times (one seed, so every set of conditions
sees the same noise and timesteps) and denoised with
- every condition null (the unconditional model),
- each condition alone, the others null (what `sample --command`, `--trajectory`, `--layout`,
  `--condition-scene` and `--single-frame` ask of it),
- every condition given,
and, for each global condition (command, trajectory), also with that condition taken from another window
of the batch. A condition the network uses lowers the loss below the null row; one it uses, taken from
another window, raises the loss again. The loss is the training target's MSE over real positions, split into
the space planes (xy, xz, yz) and the time planes (tx, ty, tz), where the ego's motion lives. `t_min` draws
timesteps from [t_min, train_steps) only: the noisy end, where the conditions decide the most.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch.utils.data import default_collate

from dynamiccity.dit.conditions import GLOBAL, Conditions
from dynamiccity.dit.rollout import Rollout, loss_weight, per_plane
from dynamiccity.hexplane import PLANES, TIME_PLANES
from dynamiccity.runs.dit import DiTTask
from dynamiccity.runs.loading import TrainedDiT

GROUPS = {"space": tuple(p for p in PLANES if p not in TIME_PLANES), "time": TIME_PLANES}


@dataclass(frozen=True)
class RelianceSpec:
    """windows: held-out windows scored (spread over the split); repeats: noisings of each; t_min: the
    smallest timestep drawn; batch: windows per forward pass."""

    windows: int = 64
    repeats: int = 4
    t_min: int = 0
    batch: int = 16


def only(cond: Conditions, names: tuple[str, ...]) -> Conditions:
    """`cond` with only `names` given (their per-window null marks kept), every other condition null."""
    kept = {n: getattr(cond, n) for n in names}
    return Conditions(**kept, null={n: m for n, m in cond.null.items() if n in names})


def from_other_windows(cond: Conditions, name: str) -> Conditions:
    """`cond` with condition `name` (and its null marks) taken from the next window of the batch."""
    null = dict(cond.null)
    if name in null:
        null[name] = null[name].roll(1, 0)
    return replace(cond, **{name: getattr(cond, name).roll(1, 0)}, null=null)


def group_weights(rollout: Rollout) -> dict[str, torch.Tensor]:
    """(H, W) weight of each plane group of `GROUPS`, and of "all", over the rolled-out map: 1 on its real
    positions."""
    weights = {group: per_plane(rollout, dict.fromkeys(planes, 1.0)) for group, planes in GROUPS.items()}
    return weights | {"all": loss_weight(rollout, "uniform")}


def held_out(task: DiTTask, windows: int) -> tuple[torch.Tensor, Conditions | None]:
    """The clean maps and conditions of up to `windows` held-out windows of the task's latents, spread evenly
    over the split (training windows when the set has none held out)."""
    data = task.val_data
    step = max(len(data) // windows, 1)
    items = default_collate([data[i] for i in range(0, len(data), step)][:windows])
    return task.maps(items), task.conditions(items)


@torch.no_grad()
def denoising_losses(task: DiTTask, model, x0: torch.Tensor, cond: Conditions, spec: RelianceSpec):
    """{group: MSE over its real positions, "all": over every real position} of model(x_t, t, cond) against
    the training target, over spec.repeats seeded noisings of the clean maps x0 (B, C, H, W)."""
    weights = {g: w.to(x0.device) for g, w in group_weights(task.rollout).items()}
    sums = dict.fromkeys(weights, 0.0)
    g = torch.Generator(device=x0.device).manual_seed(0)
    for _ in range(spec.repeats):
        xt, t, target = task.diffusion.noised(x0, generator=g, t_min=spec.t_min)
        pred = torch.cat([
            model(xt[i : i + spec.batch], t[i : i + spec.batch], cond.rows(i, i + spec.batch))
            for i in range(0, x0.shape[0], spec.batch)
        ])  # fmt: skip
        err = (pred - target).square().mean(1)  # (B, H, W)
        for group, w in weights.items():
            sums[group] += float((err * w).sum() / (w.sum() * err.shape[0]))
    return {group: total / spec.repeats for group, total in sums.items()}


def condition_reliance(dit: TrainedDiT, spec: RelianceSpec, device: torch.device) -> dict:
    """The rows described in the module docstring for `dit`, on up to spec.windows held-out windows of the
    latents it was trained on (training windows when the set has none held out)."""
    names = dit.config.model.conditions
    if not names:
        raise ValueError("this DiT was trained without conditions: there is nothing to listen to.")
    if not 0 <= spec.t_min < dit.config.diffusion.train_steps:
        raise ValueError(f"t_min must be in [0, {dit.config.diffusion.train_steps}), got {spec.t_min}.")
    task = DiTTask(dit.config, device)
    x0, cond = held_out(task, spec.windows)
    model = dit.model.to(device).eval()

    def score(given: Conditions) -> dict[str, float]:
        return denoising_losses(task, model, x0, given, spec)

    rows = {"every condition null": score(only(cond, ()))}
    for name in names:
        rows[f"{name} alone"] = score(only(cond, (name,)))
        if name in GLOBAL:
            rows[f"{name} alone, another window's"] = score(from_other_windows(only(cond, (name,)), name))
    rows["every condition"] = score(cond)
    for name in names:
        if name in GLOBAL:
            rows[f"every condition, another window's {name}"] = score(from_other_windows(cond, name))
    return {
        "step": dit.step, "windows": int(x0.shape[0]), "split": task.val_split, "repeats": spec.repeats,
        "t_min": spec.t_min, "condition_dropout": dit.config.condition_dropout,
        "unconditional": dit.config.unconditional, "rows": rows,
    }  # fmt: skip
