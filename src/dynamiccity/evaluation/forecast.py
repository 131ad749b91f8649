"""`dynamiccity eval-forecast` (paper B.2): forecast the next window of real scenes from the window before
it (the DiT's previous-window condition) and score each future frame against the truth, beside copy-last
and ego-motion-compensated copy-last (`metrics.forecast`).

A DiT of world coordinates forecasts the world seen from where the future window starts: the past window is
moved there (what the ego drove through stays where it was), the DiT draws the future world, and the world is
shown along the future ego path: the true one with `trajectory` (as the compensated baseline uses), else the
past's last step continued at constant speed and turn rate (no knowledge of the future).

Beside the DiT's own forecast, `dit_observed` keeps what the past window saw, seen from the path the
forecast is shown along (`metrics.forecast.aligned_copy`: each voxel from the past frame best aligned with
it), and takes the DiT's forecast only where no past frame saw: the world the ego has observed persists,
and the DiT draws what comes into view. `aligned_copy` alone, seen from the true future poses, is the third
baseline: what keeping the observed world is worth without the DiT.

With `votes` K > 1 the DiT forecasts each future K times (different noise) and both DiT forecasters take
the per-voxel most frequent class (`metrics.forecast.voted`): the point forecast of a generative model;
with a `quorum` Q, only where at least Q of the K agree (free elsewhere)."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from dynamiccity.data.egoframe import path_in, poses_after, to_world, world_anchor
from dynamiccity.device import pick_device
from dynamiccity.dit.conditions import Conditions
from dynamiccity.generation.along_path import shown_along
from dynamiccity.generation.conditioning import encode_map
from dynamiccity.generation.context_steer import context_steer
from dynamiccity.generation.features import NO_FEATURES, Features
from dynamiccity.generation.sampling import (
    DEFAULT_SPEC,
    SampleSpec,
    decode_logits,
    decode_maps,
    load_pair,
    sample_maps,
)
from dynamiccity.metrics.forecast import (
    PerFrameScores,
    aligned_copy,
    changed_from,
    copy_last,
    ego_copy_last,
    observed_kept,
    voted,
)
from dynamiccity.runs.datasets import DataSpec, check_grid, open_windows, read_as_run

FORECASTERS = ("dit", "dit_observed", "copy_last", "ego_copy_last", "aligned_copy")


@torch.no_grad()
def eval_forecast(
    dit_dir: str | Path,
    vae_dir: str | Path,
    data: DataSpec,
    spec: SampleSpec = DEFAULT_SPEC,
    device: str | None = None,
    max_windows: int | None = None,
    trajectory: bool = False,
    split: str = "all",
    votes: int = 1,
    quorum: int = 1,
    features: Features = NO_FEATURES,
) -> dict:
    """Scores per future frame of the DiT's forecasts and the two copy-last baselines.

    Pairs of consecutive windows (past, future) of T frames each are cut from the scenes of `data` (every T
    frames); the DiT generates the future from the past window's HexPlane, and with `trajectory` also from
    the future ego trajectory (a planner's known path; the ego-compensated baseline uses the true poses).
    A world-coordinate DiT's forecast is shown along the true future path with `trajectory`, else along the
    past's motion continued (see the module). votes: forecasts per window voted voxel by voxel, free where
    fewer than `quorum` agree (see the module). features: a world-coordinate DiT's strips ahead and its
    steer towards the world the past saw.
    Returns {"frames": T, "windows": n, "scores": {forecaster: {"miou": [T], "iou": [T], "class_iou":
    {class: [T]}, "changing_miou": [T]}}, ...}: "changing_miou" scores the voxels whose truth the
    ego-motion-compensated copy-last does not give (`metrics.forecast.changed_from`), where it scores 0.
    """
    if votes < 1 or not 1 <= quorum <= votes:
        raise ValueError(f"votes must be >= 1 and the quorum 1..votes, got {votes} and {quorum}.")
    device = pick_device(device)
    models = load_pair(dit_dir, vae_dir, device)
    dit, vae = models
    _check_forecaster(dit, features, trajectory)
    world = dit.paths is not None
    windows = _pairs(data, dit.manifest.frames, split, vae, world)
    count = len(windows) if max_windows is None else min(max_windows, len(windows))
    begin = time.perf_counter()
    scores = _forecast(models, windows, count, (spec, features), (trajectory, votes, quorum), device)
    return {
        "frames": dit.manifest.frames,
        "windows": count,
        "with_trajectory": trajectory,
        "coordinates": dit.manifest.coordinates,
        "scores": {name: s.compute() for name, s in scores.items()},
        "seconds_per_window": (time.perf_counter() - begin) / count,
        "dit_checkpoint": str(dit.checkpoint),
        "dit_step": dit.step,
        "sampler": spec.sampler,
        "steps": spec.steps,
        "seed": spec.seed,
        "cfg_scale": spec.cfg_scale,
        "votes": votes,
        "quorum": quorum,
        "context_steer": features.steering.context,
        "steer_iterations": features.steering.iterations,
        "ahead": features.ahead if world else None,
        "data": data.path,
    }


def _forecast(models, windows, count: int, asked, how: tuple[bool, int, int], device) -> dict:
    """The scores of every forecaster (`FORECASTERS`) over the first `count` (past, future) pairs of
    `windows`. asked: the `SampleSpec` and the `Features`; how: (trajectory, votes, quorum)."""
    (dit, vae), (spec, _), (trajectory, votes, quorum) = models, asked, how
    t, classes = dit.manifest.frames, vae.model.cfg.num_classes
    scores = {name: PerFrameScores(t, classes) for name in FORECASTERS}
    draw = _in_world if dit.paths is not None else _in_ego
    g = torch.Generator().manual_seed(spec.seed)
    for first, n in spec.batches(count):
        batch = [windows[i] for i in range(first, first + n)]
        shown = [w.poses[t:] if trajectory else poses_after(w.poses[:t], t) for w in batch]
        drawn = np.stack([draw(models, batch, shown, trajectory, asked, g, device) for _ in range(votes)])
        forecast = [voted(drawn[:, i], classes, quorum) for i in range(len(batch))]
        for w, pred, poses in zip(batch, forecast, shown, strict=True):
            _score_window(scores, w, pred, poses, trajectory, windows.grid.extent)
    return scores


def _check_forecaster(dit, features: Features, trajectory: bool) -> None:
    """Refuse a forecast this DiT cannot make."""
    if "previous" not in dit.config.model.conditions:
        raise ValueError(f"{dit.checkpoint}: forecasting needs a DiT trained with the previous condition.")
    world = dit.paths is not None
    features.check("forecast", world=world)
    if trajectory and not world and "trajectory" not in dit.config.model.conditions:
        raise ValueError(
            f"{dit.checkpoint}: --with-trajectory needs a DiT trained with the trajectory condition."
        )


def _pairs(data: DataSpec, t: int, split: str, vae, world: bool):
    """The (past, future) windows of 2T frames, every T frames, read in the VAE's class set."""
    pairs = read_as_run(DataSpec(data.path, data.format, t, options=data.options), vae.config.data)
    windows = open_windows(pairs, 2 * t, split)
    check_grid(windows, vae.model.cfg)
    if world:
        windows.require_poses("forecasts in world coordinates")
    if len(windows) == 0:
        raise ValueError(f"{data.path}: no scene has the {2 * t} frames a past and a future window need.")
    return windows


def _score_window(scores: dict, w, pred: np.ndarray, poses: np.ndarray, trajectory: bool, extent) -> None:
    """Add one window's forecasts (the DiT's `pred`, shown along `poses`, and the baselines) to `scores`."""
    t = len(pred)
    future = w.labels[t:]
    compensated = ego_copy_last(w.labels[t - 1], w.poses[t - 1], w.poses[t:], extent)
    changing = changed_from(compensated, future)
    observed = aligned_copy(w.labels[:t], w.poses[:t], w.poses[t:], extent)
    seen = observed if trajectory else aligned_copy(w.labels[:t], w.poses[:t], poses, extent)
    forecasts = {
        "dit": pred,
        "dit_observed": observed_kept(pred, *seen),
        "copy_last": copy_last(w.labels[:t], t),
        "ego_copy_last": compensated,
        "aligned_copy": observed[0],
    }
    for name, forecast in forecasts.items():
        scores[name].update(forecast, future, changing)


def _in_ego(models, batch: list, shown: list, trajectory: bool, asked, g, device) -> np.ndarray:
    """Future windows (B, T, X, Y, Z) of an ego-coordinate DiT: the past window as it was recorded, and the
    future path with `trajectory`. asked: the `SampleSpec` and the `Features`."""
    (dit, vae), (spec, _) = models, asked
    t = len(shown[0])
    given = {"previous": torch.cat([encode_map(models, w.labels[:t], device) for w in batch])}
    if trajectory:
        given["trajectory"] = torch.from_numpy(np.stack([_future_path(w.poses[t:]) for w in batch]))
    cond = Conditions(**given).to(device)
    return decode_maps(dit, vae, sample_maps(dit, len(batch), spec, g, device, cond))


def _in_world(models, batch: list, shown: list, trajectory: bool, asked, g, device) -> np.ndarray:
    """Future windows of a world-coordinate DiT: the past window seen from where the future window is seen
    from (its first pose, or its middle one for "centred" coordinates), the future world drawn from it and
    shown along the future poses `shown` (true with `trajectory`, else extrapolated); a DiT that takes the
    trajectory is given that path."""
    (dit, vae), (spec, features) = models, asked
    extent, world = dit.manifest.grid.extent, (dit.manifest.world_grid.shape, dit.manifest.world_grid.extent)
    t = len(shown[0])
    anchor = world_anchor(dit.manifest.coordinates, t)
    previous, seen_world, seen = [], [], []
    for w, future in zip(batch, shown, strict=True):
        path = path_in(w.poses[:t], future[anchor])
        past = to_world(w.labels[:t], path, extent, world=world)
        previous.append(encode_map(models, past, device))
        seen_world.append(past[-1])  # everything the past saw, as last seen
        seen.append(to_world(np.ones_like(w.labels[:t], bool), path, extent, world=world)[-1].any(-1))
    paths = np.stack([path_in(future, future[0]) for future in shown])
    given = {"previous": torch.cat(previous)}
    if "trajectory" in dit.config.model.conditions:
        given["trajectory"] = torch.from_numpy(paths)
    cond = Conditions(**given).to(device)
    steer = context_steer(
        partial(decode_logits, dit, vae), torch.from_numpy(np.stack(seen_world))[:, None],
        torch.from_numpy(np.stack(seen))[:, None], torch.ones(()), features.steering.context,
        features.steering.iterations,
    )  # fmt: skip
    maps = sample_maps(dit, len(batch), spec, g, device, cond, steer=steer)
    return shown_along(models, maps, decode_maps(dit, vae, maps), paths, cond, spec, features, g, device)[0]


def _future_path(poses: np.ndarray) -> np.ndarray:
    """(T, 3) x, y, yaw of the future frames in the first future frame's ego frame, as the data derives a
    window's trajectory."""
    from dynamiccity.data.derive import ego_trajectory

    return ego_trajectory(poses).astype(np.float32)
