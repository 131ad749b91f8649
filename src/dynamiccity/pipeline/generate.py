"""`dynamiccity sample`: HexPlanes from a trained DiT, decoded by its VAE, written as scenes and GIFs."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from dynamiccity.atomic import write_text
from dynamiccity.data import Scene, write_synthtown
from dynamiccity.data.egoframe import chained_poses, moved, pose_after, with_heading
from dynamiccity.device import pick_device
from dynamiccity.diffusion import SAMPLERS
from dynamiccity.diffusion.process import Diffusion, Known, guided
from dynamiccity.diffusion.steering import Steer, steered
from dynamiccity.dit.conditions import Conditions
from dynamiccity.pipeline.conditioning import ConditionRequest, encode_map, requested
from dynamiccity.pipeline.context_steer import context_steer
from dynamiccity.pipeline.layout_steer import layout_steer
from dynamiccity.pipeline.runs import Trained, TrainedDiT, load_dit, load_vae
from dynamiccity.pipeline.vae_run import VAERunConfig
from dynamiccity.vae.model import HexPlaneVAE

if TYPE_CHECKING:
    from dynamiccity.pipeline.editing import EditRequest


@dataclass(frozen=True)
class SampleSpec:
    """How to sample: `sampler` (one of `diffusion.SAMPLERS`) for `steps` steps, `batch` scenes at a time,
    from `seed`, with classifier-free guidance at `cfg_scale` (paper Eq. 12; 1: none) when conditioned.
    When part of a scene is kept (inpainting, outpainting, a city's tiles), every step runs `resample`
    times (RePaint's resampling; 1: plain replacement). A world-coordinate DiT outpaints each window where
    its ego path looks beyond it when `ahead` (`pipeline.ahead`; else that strip is free). With a layout
    condition, `layout_steer` > 0 steers every step towards the layout through the VAE's decoder
    (`pipeline.layout_steer`: `steer_iterations` gradient steps of that size; 0: none); when editing,
    `context_steer` > 0 steers what the edit generates towards the scene it keeps (`pipeline.context_steer`).
    The same spec gives the same scenes on a device."""

    sampler: str = "dpmpp"
    steps: int = 20
    seed: int = 0
    batch: int = 4
    cfg_scale: float = 1.0
    resample: int = 1
    ahead: bool = True
    layout_steer: float = 0.0
    steer_iterations: int = 3
    context_steer: float = 0.0

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}.")
        if self.steps < 1 or self.batch < 1:
            raise ValueError(f"steps and batch must be >= 1, got {self.steps} and {self.batch}.")
        if not self.cfg_scale >= 0:
            raise ValueError(f"cfg_scale must be >= 0, got {self.cfg_scale}.")
        if self.resample < 1:
            raise ValueError(f"resample must be >= 1, got {self.resample}.")
        if not (self.layout_steer >= 0 and self.context_steer >= 0) or self.steer_iterations < 1:
            raise ValueError(
                f"layout_steer and context_steer must be >= 0 and steer_iterations >= 1, got "
                f"{self.layout_steer}, {self.context_steer} and {self.steer_iterations}."
            )


def generate(
    dit_dir: str | Path,
    vae_dir: str | Path,
    num: int,
    spec: SampleSpec = SampleSpec(),
    device: str | None = None,
    request: ConditionRequest | None = None,
    frames: int | None = None,
) -> tuple[np.ndarray, dict]:
    """`num` scenes (num, T, X, Y, Z) uint8 and facts about the run (seconds per scene, checkpoints).

    The DiT's EMA weights are used; the VAE must be the one that encoded the DiT's latents (its checkpoint
    hash is checked against the DiT run's manifest). The noise is drawn on the CPU, so devices differ only
    by their arithmetic. `request` names the conditions (`ConditionRequest`); `frames` grows scenes beyond
    one window (see `generate_with`), from the request's `condition_scene` when it names one.
    """
    device = pick_device(device)
    models = load_pair(dit_dir, vae_dir, device)
    cond, start = requested(request, models, device)
    return generate_with(*models, num, spec, device, cond, frames, start)


def load_pair(
    dit_dir: str | Path, vae_dir: str | Path, device: torch.device
) -> tuple[TrainedDiT, Trained[HexPlaneVAE, VAERunConfig]]:
    """A trained DiT and the VAE that encoded its latents (checked by the checkpoint's hash)."""
    dit = load_dit(dit_dir, device=device)
    vae = load_vae(vae_dir, device=device)
    dit.manifest.check_vae(vae.checkpoint)
    return dit, vae


def generate_with(
    dit: TrainedDiT,
    vae: Trained[HexPlaneVAE, VAERunConfig],
    num: int,
    spec: SampleSpec = SampleSpec(),
    device: torch.device | str = "cpu",
    cond: Conditions | None = None,
    frames: int | None = None,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    """`generate` with models already loaded (see `load_pair`): `num` scenes (num, frames, X, Y, Z) uint8.

    cond: the conditions (batch 1: the same for every scene, or batch `num`). frames: the scenes' length;
    beyond the DiT's window T a scene grows window by window, each window conditioned on the previous
    one's HexPlane (the `previous` condition). start: a real window that every scene begins with (as the
    VAE reconstructs it) and grows from; a world-coordinate DiT continues its world from where its real ego
    path goes next.
    """
    window = dit.manifest.frames
    frames = window if frames is None else frames
    if frames < 1:
        raise ValueError(f"a scene needs at least one frame, got {frames}.")
    windows = -(-frames // window)
    if (windows > 1 or start is not None) and "previous" not in dit.config.model.conditions:
        raise ValueError(
            f"{dit.checkpoint}: growing a scene beyond one window needs a DiT trained with the previous "
            "condition."
        )
    if cond is not None and cond.batch_size() not in (None, 1, num):
        raise ValueError(f"conditions for {cond.batch_size()} scenes given for {num} scenes.")
    if spec.layout_steer and (cond is None or cond.layout is None):
        raise ValueError("steering towards a layout needs a layout: give --layout or --layout-from.")
    world = dit.paths is not None
    if spec.context_steer and not world:
        raise ValueError(
            "--context-steer steers edits towards what they keep (--inpaint, --outpaint, a city's tiles, a "
            "world-coordinate DiT's strips ahead); this DiT's plain generation keeps nothing."
        )
    g, rng = torch.Generator().manual_seed(spec.seed), np.random.default_rng(spec.seed)
    start_map = None if start is None else encode_map((dit, vae), start.seen_by(dit), device)
    start_world = decode_maps(dit, vae, start_map) if world and start_map is not None else None
    scenes, paths, unseen, added, begin = [], [], [], [], time.perf_counter()
    for first in range(0, num, spec.batch):
        n = min(spec.batch, num - first)
        part = _batch_conditions(cond, first, n, num)
        maps, drawn, worlds, used, now = [], [], [], [], part
        if start_map is not None:
            maps.append(start_map.expand(n, -1, -1, -1))
            if world:  # the real window's world, shown along its real path
                worlds.append(np.repeat(start_world, n, axis=0))
                drawn.append(np.repeat(start.path[None], n, axis=0))
                used.append(part)
        while len(maps) < windows:
            if maps and world:
                now = replace(
                    part or Conditions(), previous=_previous_world(dit, vae, worlds[-1], drawn[-1], device)
                )
            elif maps:
                now = replace(now or Conditions(), previous=maps[-1])
            if world:
                now, path = with_ego_paths(dit, now, n, rng)
                drawn.append(path)
                used.append(now)
            steer = layout_steer(
                partial(decode_logits, dit, vae), dit.manifest.layout_factor, now, spec.layout_steer,
                spec.steer_iterations,
            )  # fmt: skip
            maps.append(sample_maps(dit, n, spec, g, device, now, steer=steer))
            if world:
                worlds.append(decode_maps(dit, vae, maps[-1]))
        decoded = worlds if world else [decode_maps(dit, vae, m) for m in maps]
        if world:
            from dynamiccity.pipeline.ahead import shown_along  # it samples with this module's sampler

            shown = [
                shown_along((dit, vae), *each, spec, g, device)
                for each in zip(maps, decoded, drawn, used, strict=True)
            ]
            decoded = [labels for labels, _, _ in shown]
            unseen += [hidden[:, :frames].mean() for _, hidden, _ in shown]
            added += [strips for _, _, strips in shown]
            paths.append(np.stack(drawn, axis=1))
        scenes.append(np.concatenate(decoded, axis=1)[:, :frames])
    seconds = time.perf_counter() - begin
    facts = {
        **asdict(spec),
        "num": num,
        "frames": frames,
        "conditions": [] if cond is None else list(cond.given()),
        "seconds_per_scene": seconds / max(1, num),
        "dit_checkpoint": str(dit.checkpoint),
        "dit_step": dit.step,
        "vae_checkpoint": str(vae.checkpoint),
        "latents": dit.config.latents,
    }
    if world:
        facts["coordinates"] = "world"
        facts["ego_paths"] = np.round(np.concatenate(paths), 4).tolist()  # (num, windows, T, 3)
        facts["unseen_share"] = float(np.mean(unseen))
        facts["outpainted_ahead"] = added  # per batch and window: voxels added on each side
    return np.concatenate(scenes), facts


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


def _previous_world(dit, vae, worlds: np.ndarray, paths: np.ndarray, device) -> torch.Tensor:
    """The previous-window condition of the next world-coordinate windows: each generated world window
    (n, T, X, Y, Z) seen from where its path (n, T, 3) goes next (`data.egoframe.pose_after`), as the
    training windows' previous windows are seen from their first frame; encoded, (n, C, H, W)."""
    extent, maps = dit.manifest.grid.extent, []
    for window, path in zip(worlds, paths, strict=True):
        ahead = pose_after(path)
        seen = np.stack([moved(frame, ahead, extent) for frame in window])
        maps.append(encode_map((dit, vae), seen, device))
    return torch.cat(maps)


def _batch_conditions(cond: Conditions | None, first: int, n: int, num: int) -> Conditions | None:
    """The conditions of scenes first..first+n: a batch-1 condition repeated, a batch-num one sliced."""
    if cond is None or not cond.given():
        return None
    if cond.batch_size() == 1:
        return cond.repeat(n)
    return cond.rows(first, first + n)


def sample_maps(
    dit: TrainedDiT,
    n: int,
    spec: SampleSpec,
    g: torch.Generator,
    device,
    cond: Conditions | None,
    known: Known | None = None,
    steer: Steer | None = None,
) -> torch.Tensor:
    """n normalised rolled-out HexPlanes (n, C, H, W) from the DiT, guided by `cond` at spec.cfg_scale,
    keeping `known` (inpainting) when given, with spec.resample rounds per step, steered by `steer`
    (`diffusion.steering`) when given."""
    model = dit.model
    shape = (n, dit.config.model.latent_channels, model.rollout.height, model.rollout.width)
    diffusion = Diffusion(dit.config.diffusion)
    denoiser = model if cond is None else guided(model, cond, spec.cfg_scale)
    if steer is not None:
        denoiser = steered(denoiser, steer, diffusion)
    return diffusion.sample(
        denoiser, shape, spec.sampler, spec.steps, generator=g, mask=model.pixel_mask, device=device,
        known=known, resample=spec.resample,
    )  # fmt: skip


def decode_logits(
    dit: TrainedDiT, vae: Trained[HexPlaneVAE, VAERunConfig], maps: torch.Tensor
) -> torch.Tensor:
    """Rolled-out normalised HexPlanes (n, C, H, W) -> the VAE decoder's logits (n, T, X, Y, Z, K),
    differentiable in `maps`."""
    return vae.model.decode(dit.manifest.denormalise(dit.model.unroll(maps)))


def edit_steer(
    models: tuple[TrainedDiT, Trained[HexPlaneVAE, VAERunConfig]],
    spec: SampleSpec,
    known: Known,
    context: np.ndarray,
    kept: np.ndarray,
) -> Steer | None:
    """The steer of an edit that keeps `known` towards its context at `spec.context_steer`
    (`pipeline.context_steer`): the scene `context` (T, X, Y, Z) or (B, T, X, Y, Z) as the edited window sees
    it, holding where `kept` (X, Y) or (B, T, X, Y) is True; None at scale 0."""
    dit, vae = models
    return context_steer(
        partial(decode_logits, dit, vae), torch.from_numpy(np.ascontiguousarray(context)),
        torch.from_numpy(np.ascontiguousarray(kept)), 1 - known.keep, spec.context_steer,
        spec.steer_iterations,
    )  # fmt: skip


@torch.no_grad()
def decode_maps(dit: TrainedDiT, vae: Trained[HexPlaneVAE, VAERunConfig], maps: torch.Tensor) -> np.ndarray:
    """Rolled-out normalised HexPlanes -> decoded windows (n, T, X, Y, Z) uint8."""
    return decode_logits(dit, vae, maps).argmax(-1).to(torch.uint8).cpu().numpy()


def sample(
    dit_dir: str | Path,
    vae_dir: str | Path,
    num: int,
    out: str | Path,
    spec: SampleSpec = SampleSpec(),
    gifs: bool = True,
    device: str | None = None,
    request: ConditionRequest | None = None,
    frames: int | None = None,
    edit: EditRequest | None = None,
) -> dict:
    """Generate (see `generate`), or edit a scene of the request's data (`edit`, see
    `pipeline.editing`), and write OUT as a SynthTown dataset (scenes sample_XXXX) + gifs/ + sample.json."""
    from dynamiccity.pipeline.editing import edit_scenes
    from dynamiccity.viz import render_3d, save_animation

    device = pick_device(device)
    models = load_pair(dit_dir, vae_dir, device)
    cond, start = requested(request, models, device)
    if edit is None:
        scenes, facts = generate_with(*models, num, spec, device, cond, frames, start)
        grid = models[0].manifest.grid
    else:
        if start is not None or frames is not None:
            raise ValueError("an edit works on one window: drop --condition-scene and --extend.")
        if spec.layout_steer:
            raise ValueError(
                "--layout-steer steers generation, not edits: drop it with --inpaint/--outpaint."
            )
        begin = time.perf_counter()
        scenes, grid, facts = edit_scenes(models, edit, (request or ConditionRequest()).data, num, spec,
                                          device, cond)  # fmt: skip
        facts.update(asdict(spec), num=num, seconds_per_scene=(time.perf_counter() - begin) / num,
                     conditions=[] if cond is None else list(cond.given()), dit_step=models[0].step)  # fmt: skip
    out = Path(out)
    paths = facts.get("ego_paths")  # the ego poses of a world-coordinate DiT's scenes; else it stands still
    if paths is None:
        poses = [np.broadcast_to(np.eye(4), (scenes.shape[1], 4, 4)).copy()] * len(scenes)
    else:
        poses = [chained_poses(np.asarray(p))[: scenes.shape[1]] for p in paths]
    pairs = [
        (Scene(s, poses[i], None, name=f"sample_{i:04d}", meta={"seed": spec.seed}), "generated")
        for i, s in enumerate(scenes)
    ]
    write_synthtown(out, pairs, grid)
    if gifs:
        for i, s in enumerate(scenes):
            save_animation([render_3d(f) for f in s], out / "gifs" / f"sample_{i:04d}.gif", fps=5)
    write_text(out / "sample.json", json.dumps(facts, indent=1) + "\n")
    return facts
