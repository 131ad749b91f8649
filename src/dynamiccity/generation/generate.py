"""`generate`: new scenes from a DiT and its VAE, one window or grown window by window, from noise or from a
real window; a world-coordinate DiT's still worlds shown along ego paths (`generation.along_path`)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from dynamiccity.data.egoframe import moved, path_poses, pose_after, with_heading, world_anchor
from dynamiccity.device import pick_device
from dynamiccity.dit.conditions import Conditions
from dynamiccity.generation.along_path import shown_along
from dynamiccity.generation.conditioning import ConditionRequest, encode_map, requested
from dynamiccity.generation.features import NO_FEATURES, Features
from dynamiccity.generation.layout_steer import layout_steer
from dynamiccity.generation.sampling import (
    DEFAULT_SPEC,
    SampleSpec,
    batch_conditions,
    decode_logits,
    decode_maps,
    load_pair,
    sample_maps,
)
from dynamiccity.runs.loading import Trained, TrainedDiT
from dynamiccity.runs.vae import VAERunConfig
from dynamiccity.vae.model import HexPlaneVAE


def generate(
    dit_dir: str | Path,
    vae_dir: str | Path,
    num: int,
    spec: SampleSpec = DEFAULT_SPEC,
    device: str | None = None,
    request: ConditionRequest | None = None,
    frames: int | None = None,
    features: Features = NO_FEATURES,
) -> tuple[np.ndarray, dict]:
    """`num` scenes (num, T, X, Y, Z) uint8 and facts about the run (seconds per scene, checkpoints).

    The DiT's EMA weights are used; the VAE must be the one that encoded the DiT's latents (its checkpoint
    hash is checked against the DiT run's manifest). The noise is drawn on the CPU, so devices differ only
    by their arithmetic. `request` names the conditions (`ConditionRequest`); `frames` grows scenes beyond
    one window (see `generate_with`), from the request's `condition_scene` when it names one. `features`:
    what the generation does beyond sampling (`generation.features`).
    """
    device = pick_device(device)
    models = load_pair(dit_dir, vae_dir, device)
    cond, start = requested(request, models, device)
    return generate_with(*models, num, spec, device, cond, frames, start, features)


def generate_with(
    dit: TrainedDiT,
    vae: Trained[HexPlaneVAE, VAERunConfig],
    num: int,
    spec: SampleSpec = DEFAULT_SPEC,
    device: torch.device | str = "cpu",
    cond: Conditions | None = None,
    frames: int | None = None,
    start: np.ndarray | None = None,
    features: Features = NO_FEATURES,
) -> tuple[np.ndarray, dict]:
    """`generate` with models already loaded (see `load_pair`): `num` scenes (num, frames, X, Y, Z) uint8.

    cond: the conditions (batch 1: the same for every scene, or batch `num`). frames: the scenes' length;
    beyond the DiT's window T a scene grows window by window, each window conditioned on the previous
    one's HexPlane (the `previous` condition). start: a real window that every scene begins with (as the
    VAE reconstructs it) and grows from; a world-coordinate DiT continues its world from where its real ego
    path goes next.
    """
    frames = dit.manifest.frames if frames is None else frames
    windows = _check_request(dit, num, features, cond, frames, start)
    world = dit.paths is not None
    g, rng = torch.Generator().manual_seed(spec.seed), np.random.default_rng(spec.seed)
    start_map = None if start is None else encode_map((dit, vae), start.seen_by(dit), device)
    start_world = decode_maps(dit, vae, start_map) if world and start_map is not None else None
    scenes, paths, unseen, added, begin = [], [], [], [], time.perf_counter()
    for first, n in spec.batches(num):
        part = batch_conditions(cond, first, n, num)
        drawn = _Drawn(latest=part)
        if start_map is not None:
            drawn.begin_with(start_map.expand(n, -1, -1, -1), start_world, start, part, world)
        while len(drawn.maps) < windows:
            _draw_window(drawn, (dit, vae), n, part, (spec, features), g, rng, device)
        if world:
            shown = [
                shown_along((dit, vae), *each, spec, features, g, device)
                for each in zip(drawn.maps, drawn.worlds, drawn.paths, drawn.sampled_with, strict=True)
            ]
            decoded = [labels for labels, _, _ in shown]
            unseen += [hidden[:, :frames].mean() for _, hidden, _ in shown]
            added += [strips for _, _, strips in shown]
            paths.append(np.stack(drawn.paths, axis=1))
        else:
            decoded = [decode_maps(dit, vae, m) for m in drawn.maps]
        scenes.append(np.concatenate(decoded, axis=1)[:, :frames])
    facts = _facts(dit, vae, num, (spec, features), cond, frames, (time.perf_counter() - begin) / max(1, num))
    if world:
        facts["coordinates"] = dit.manifest.coordinates
        facts["ego_paths"] = np.round(np.concatenate(paths), 4).tolist()  # (num, windows, T, 3)
        facts["unseen_share"] = float(np.mean(unseen))
        facts["outpainted_ahead"] = added  # per batch and window: voxels added on each side
    return np.concatenate(scenes), facts


def _check_request(
    dit: TrainedDiT, num: int, features: Features, cond: Conditions | None, frames: int, start
) -> int:
    """Refuse what this DiT cannot generate; the number of windows a scene of `frames` frames takes."""
    if frames < 1:
        raise ValueError(f"a scene needs at least one frame, got {frames}.")
    windows = -(-frames // dit.manifest.frames)
    if (windows > 1 or start is not None) and "previous" not in dit.config.model.conditions:
        raise ValueError(
            f"{dit.checkpoint}: growing a scene beyond one window needs a DiT trained with the previous "
            "condition."
        )
    if cond is not None and cond.batch_size() not in (None, 1, num):
        raise ValueError(f"conditions for {cond.batch_size()} scenes given for {num} scenes.")
    features.check(
        "generate", world=dit.paths is not None, layout=cond is not None and cond.layout is not None
    )
    return windows


@dataclass
class _Drawn:
    """The windows of a batch of scenes drawn so far: maps (n, C, H, W) each; for a world-coordinate DiT
    also the decoded worlds (n, T, X, Y, Z), the ego paths (n, T, 3) they are shown along and the
    conditions each was sampled with (`sampled_with`); `latest`, the conditions of the latest window."""

    maps: list = field(default_factory=list)
    worlds: list = field(default_factory=list)
    paths: list = field(default_factory=list)
    sampled_with: list = field(default_factory=list)
    latest: Conditions | None = None

    def begin_with(self, start_map, start_world, start, part: Conditions | None, world: bool) -> None:
        """A real window first, encoded (and for a world DiT, its world shown along its real path)."""
        self.maps.append(start_map)
        if world:
            n = len(start_map)
            self.worlds.append(np.repeat(start_world, n, axis=0))
            self.paths.append(np.repeat(start.path[None], n, axis=0))
            self.sampled_with.append(part)


def _draw_window(
    drawn: _Drawn, models, n: int, part, asked: tuple[SampleSpec, Features], g, rng, device
) -> None:
    """Sample the next window of a batch: conditioned on the one before it (as a world DiT saw its previous
    windows, or as its HexPlane), along a drawn or requested ego path for a world DiT, steered towards a
    requested layout."""
    (dit, vae), (spec, features) = models, asked
    world = dit.paths is not None
    cond = drawn.latest
    if drawn.maps and world:
        cond = part
    elif drawn.maps:
        cond = replace(drawn.latest or Conditions(), previous=drawn.maps[-1])
    if world:
        cond, path = with_ego_paths(dit, cond, n, rng)
        if drawn.maps:
            previous = _previous_world(dit, vae, drawn.worlds[-1], drawn.paths[-1], path, device)
            cond = replace(cond or Conditions(), previous=previous)
        drawn.paths.append(path)
        drawn.sampled_with.append(cond)
    steer = layout_steer(
        partial(decode_logits, dit, vae), dit.manifest.layout_factor, cond, features.steering.layout,
        features.steering.iterations,
    )  # fmt: skip
    drawn.maps.append(sample_maps(dit, n, spec, g, device, cond, steer=steer))
    drawn.latest = cond
    if world:
        drawn.worlds.append(decode_maps(dit, vae, drawn.maps[-1]))


def _facts(
    dit,
    vae,
    num: int,
    asked: tuple[SampleSpec, Features],
    cond: Conditions | None,
    frames: int,
    seconds: float,
) -> dict:
    """What `sample.json` records of a generation."""
    spec, features = asked
    return {
        **asdict(spec),
        **features.facts(),
        "num": num,
        "frames": frames,
        "conditions": [] if cond is None else list(cond.given()),
        "seconds_per_scene": seconds,
        "dit_checkpoint": str(dit.checkpoint),
        "dit_step": dit.step,
        "vae_checkpoint": str(vae.checkpoint),
        "latents": dit.config.latents,
    }


def with_ego_paths(
    dit: TrainedDiT, cond: Conditions | None, n: int, rng: np.random.Generator
) -> tuple[Conditions | None, np.ndarray]:
    """The ego paths (n, T, 3) that n world-coordinate windows are shown along, and the conditions to sample
    them with: a requested trajectory is the path (its yaw from its heading when it has none); otherwise a
    path is drawn from the DiT's training paths of the requested command (of any command when none is),
    and a DiT that takes the trajectory and the command is given the drawn path and its command, so that
    the world it draws is one that this path drives through."""
    given = {} if cond is None else {k: getattr(cond, k) for k in ("command", "trajectory")}
    null = {} if cond is None else cond.null
    if given.get("trajectory") is not None and not null.get("trajectory", torch.zeros(1)).any():
        return cond, np.stack([with_heading(p) for p in given["trajectory"].cpu().numpy()])
    commands = given.get("command")
    wanted = [None] * n if commands is None else [int(c) for c in commands.cpu()]
    draws = [dit.paths.draw(c, rng) for c in wanted]
    paths = np.stack([p for p, _ in draws])
    taken = dit.config.model.conditions
    extra: dict[str, torch.Tensor] = {}
    device = dit.model.pos.device
    if "trajectory" in taken:
        extra["trajectory"] = torch.from_numpy(paths).to(device)
    if "command" in taken and commands is None:
        extra["command"] = torch.tensor([c for _, c in draws]).to(device)
    if not extra:
        return cond, paths
    return replace(cond or Conditions(), **extra), paths


def _previous_world(
    dit, vae, worlds: np.ndarray, paths: np.ndarray, following: np.ndarray, device
) -> torch.Tensor:
    """The previous-window condition of the next world-coordinate windows: each generated world window
    (n, T, X, Y, Z), shown along its path (n, T, 3), seen from where the next window is seen from, the next
    window starting where the path goes next (`data.egoframe.pose_after`) and driving its own path
    (`following`, n, T, 3), as the training windows' previous windows are seen; encoded, (n, C, H, W)."""
    extent, maps = dit.manifest.world_grid.extent, []
    anchor = world_anchor(dit.manifest.coordinates, dit.manifest.frames)
    for window, path, next_path in zip(worlds, paths, following, strict=True):
        before, after = path_poses(path)[anchor], pose_after(path) @ path_poses(next_path)[anchor]
        move = np.linalg.inv(before) @ after  # the next window's view, in this window's
        seen = np.stack([moved(frame, move, extent) for frame in window])
        maps.append(encode_map((dit, vae), seen, device))
    return torch.cat(maps)
