"""`dynamiccity encode`: every window of a dataset to its HexPlane, with its conditions, as a latent set."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from dynamiccity.atomic import atomic_path
from dynamiccity.data.egoframe import COORDINATES, held, is_world, path_in, to_world, world_anchor
from dynamiccity.data.scene import GridSpec
from dynamiccity.data.windows import Window
from dynamiccity.device import pick_device
from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.runs.datasets import DataSpec, check_grid, open_windows, read_as_run
from dynamiccity.runs.latents import FRAME, PREVIOUS, LatentManifest
from dynamiccity.runs.loading import load_vae
from dynamiccity.runs.vae import encoding_of
from dynamiccity.train.checkpoint import file_sha256
from dynamiccity.vae.refine import Refinement, encode_window

SHARD = 64
"""Windows per latent shard: what a resumed encoding (`resume`) may have to redo."""


class ChannelStats:
    """Running per-channel mean and standard deviation over every cell of every plane."""

    def __init__(self, channels: int) -> None:
        self.total = torch.zeros(channels, dtype=torch.float64)
        self.squares = torch.zeros(channels, dtype=torch.float64)
        self.count = 0

    def update(self, latents: HexPlane) -> None:
        c = self.total.numel()
        flat = torch.cat([p.transpose(0, 1).reshape(c, -1) for p in latents.planes()], dim=1).double()
        self.total += flat.sum(1)
        self.squares += flat.square().sum(1)
        self.count += flat.shape[1]

    def mean_std(self) -> tuple[list[float], list[float]]:
        mean = self.total / self.count
        std = (self.squares / self.count - mean.square()).clamp_min(1e-12).sqrt()
        return mean.tolist(), std.tolist()


def encode_latents(
    run_dir: str | Path,
    data: DataSpec,
    out: str | Path,
    progress: bool = False,
    device: str | None = None,
    refine: Refinement | None = None,
    coordinates: str | None = None,
    resume: bool = False,
    shard_size: int = SHARD,
) -> LatentManifest:
    """Encode every window of every split (stride 1 unless `data` sets one) and write the latent set
    (see `dynamiccity.runs.latents`) to `out`; returns its manifest. Windows are encoded as the VAE encodes
    by default (`VAERunConfig.encoding`) unless `refine` says otherwise (steps 0: one pass); a refined
    encoding (the windows' and their first frames') is refined on its window (`vae.refine`), and the
    manifest says so. With `coordinates="world"` every window is first seen from its first frame's ego
    (`data.egoframe.to_world`: the static world stands still), its layout too, and with "centred" from its
    middle frame's; the data needs ego poses. The single-frame condition is the window's first frame as
    its ego saw it, in any coordinates, as a user gives one.
    By default, windows are seen as the VAE was trained to see them (its data's `coordinates`).

    Shards of `shard_size` windows are written as they are done, each stamped with what made it (the VAE
    checkpoint's sha256, the refinement, the coordinates, the data and its rows); `resume` keeps the shards
    already in `out` whose stamp is this encoding's and encodes the rest, so that an encoding longer than a
    working session can be continued. A shard stamped otherwise is an error, never silently mixed in."""
    from tqdm import tqdm

    vae = load_vae(run_dir, device=pick_device(device))
    cfg = vae.model.cfg
    coordinates = vae.config.data.coordinates if coordinates is None else coordinates
    refine = encoding_of(vae.config, refine)
    ego = replace(read_as_run(data, vae.config.data), coordinates="ego")  # seen from the world below
    windows = open_windows(ego, cfg.frames)
    check_grid(windows, cfg)
    if len(windows) == 0:
        raise ValueError(f"{data.path}: no windows of {cfg.frames} frames.")
    if coordinates not in COORDINATES:
        raise ValueError(f"unknown coordinates {coordinates!r}; choose one of {', '.join(COORDINATES)}.")
    if is_world(coordinates):
        windows.require_poses("windows in world coordinates")
    elif windows.world_margin:
        raise ValueError(
            f"{run_dir}: a VAE of windows widened by data.world_margin encodes world coordinates only."
        )
    out = Path(out)
    sha = file_sha256(vae.checkpoint)
    stamp = {
        "vae_sha256": sha,
        "refine": json.dumps(None if refine is None else asdict(refine), sort_keys=True),
        "coordinates": coordinates,
        "data": str(Path(data.path).resolve()),
        "stride": str(windows.stride),
    }
    stats, shards = ChannelStats(cfg.latent_channels), []
    for first in tqdm(range(0, len(windows), shard_size), disable=not progress, unit="shard"):
        rows = range(first, min(first + shard_size, len(windows)))
        path = out / f"shard_{first // shard_size:05d}.safetensors"
        stamped = {**stamp, "rows": f"{rows.start}:{rows.stop}"}
        if resume and path.exists():
            latents = _done_shard(path, stamped)
        else:
            tensors, latents = _shard(vae.model, windows, rows, coordinates, refine)
            with atomic_path(path) as tmp:
                save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=stamped)
        shards.append(path.name)
        stats.update(latents)
    mean, std = stats.mean_std()
    manifest = LatentManifest(
        vae_run=str(Path(run_dir).resolve()),
        vae_checkpoint=str(vae.checkpoint),
        vae_sha256=sha,
        vae_config=cfg,
        latent_mean=tuple(mean),
        latent_std=tuple(std),
        planes=PLANES,
        windows=len(windows),
        frames=cfg.frames,
        stride=windows.stride,
        layout_factor=windows.layout_factor,
        grid=windows.grid,
        shards=tuple(shards),
        shard_size=shard_size,
        data={"path": str(data.path), "format": data.format},
        scenes=tuple({"name": s.name, "split": s.split} for s in windows.scenes),
        poses=windows.has_poses,
        frame_planes=True,
        refine=None if refine is None else asdict(refine),
        coordinates=coordinates,
        previous_planes=is_world(coordinates),
        world_margin=windows.world_margin,
    )
    manifest.write(out)
    return manifest


def _done_shard(path: Path, stamp: dict[str, str]) -> HexPlane:
    """The window HexPlanes of a shard a previous encoding wrote, after checking that its stamp is
    `stamp` (what this encoding would write there)."""
    with safe_open(str(path), framework="pt") as f:
        written = f.metadata() or {}
    for key, value in stamp.items():
        if written.get(key) != value:
            raise ValueError(
                f"{path}: written by another encoding ({key} {written.get(key)!r}, this one {value!r}); "
                "encode to a new --out, or remove the folder to start over."
            )
    return HexPlane.from_planes({n: t for n, t in load_file(str(path)).items() if n in PLANES})


def _shard(model, windows, rows: range, coordinates: str, refine: Refinement | None):
    """The tensors of one shard (windows `rows`): each window's HexPlane, its first frame's, its conditions
    and, in world coordinates, its previous window's as seen from where the window is seen from; and the
    windows' HexPlanes, for the channel statistics."""
    batch = ego = [windows[i] for i in rows]
    previous = None
    if is_world(coordinates):
        anchor = world_anchor(coordinates, windows.frames)
        previous = _previous_in_world(model, windows, rows, batch, refine, anchor)
        batch = [windows.in_world(w, anchor) for w in batch]
    latents = HexPlane.cat([_encode(model, w.labels, w.valid, refine) for w in batch])
    extra = {} if previous is None else _stored_previous(previous, latents)
    frames = HexPlane.cat([_encode(model, *_held(w, windows.grid, windows.world_grid), refine) for w in ego])
    tensors = {
        **latents.as_dict(),
        **{FRAME + n: p for n, p in frames.as_dict().items()},
        **_conditions(batch),
        **extra,
    }
    return tensors, latents


def _previous_in_world(
    model, windows, rows, batch: list[Window], refine, anchor: int
) -> list[HexPlane | None]:
    """The HexPlane of each window's previous window seen from the window's frame `anchor`, None where there
    is none: where the ego is now, the world it drove through."""
    encoded = []
    for i, window in zip(rows, batch, strict=True):
        j = windows.previous(i)
        if j is None:
            encoded.append(None)
            continue
        before = windows[j]
        path = path_in(before.poses, window.poses[anchor])
        world = (windows.world_grid.shape, windows.world_grid.extent)
        labels, valid = (
            to_world(a, path, windows.grid.extent, world=world) for a in (before.labels, before.valid)
        )
        encoded.append(_encode(model, labels, valid, refine))
    return encoded


def _stored_previous(previous: list[HexPlane | None], latents: HexPlane) -> dict[str, torch.Tensor]:
    """`PREVIOUS` planes (zeros where a window has none) and `has_previous`, as a shard holds them."""
    zeros = latents[:1].map(torch.zeros_like)
    planes = HexPlane.cat([zeros if p is None else p for p in previous]).as_dict()
    has = torch.tensor([p is not None for p in previous])
    return {**{PREVIOUS + n: p for n, p in planes.items()}, "has_previous": has}


@torch.no_grad()
def _encode(model, labels: np.ndarray, valid: np.ndarray, refine: Refinement | None) -> HexPlane:
    """The HexPlane (1, C, ...) of one window (T, X, Y, Z), refined on its valid voxels with `refine` when
    given, on the CPU."""
    device = next(model.parameters()).device
    tensor = torch.from_numpy(labels)[None].to(device)
    return encode_window(model, tensor, torch.from_numpy(valid)[None].to(device), refine).map(
        torch.Tensor.cpu
    )


def _held(window: Window, grid: GridSpec, world: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    """The window's first frame (labels and valid mask) held for all its T frames, on the `world` grid the
    VAE draws (`egoframe.held`): the scene the single-frame condition encodes."""
    frames, view, wide = len(window.labels), (grid.shape, grid.extent), (world.shape, world.extent)
    return held(window.labels[0], frames, view, wide), held(window.valid[0], frames, view, wide)


def _conditions(batch: list[Window]) -> dict[str, torch.Tensor]:
    """The conditions of windows as tensors, written as the windows carry them: a window of a scene without
    ego poses keeps command `NO_COMMAND` (-1) and a NaN trajectory, for whatever conditions on them to
    refuse (`WindowDataset.require_poses`)."""
    return {
        "command": torch.tensor([w.command for w in batch], dtype=torch.int64),
        "trajectory": torch.from_numpy(np.stack([w.trajectory for w in batch])),
        "layout": torch.from_numpy(np.stack([w.layout for w in batch]).astype(np.uint8)),
        "scene": torch.tensor([w.scene for w in batch], dtype=torch.int64),
        "start": torch.tensor([w.start for w in batch], dtype=torch.int64),
    }
