"""Products of a trained VAE: reconstructions on disk (with side-by-side GIFs) and the latent cache."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from dynamiccity.atomic import atomic_path, write_text
from dynamiccity.data import Scene, open_dataset, write_synthtown
from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.train.checkpoint import file_sha256
from dynamiccity.train.distributed import pick_device
from dynamiccity.vae.evaluate import SPLITS
from dynamiccity.vae.run import check_grid, load_vae

log = logging.getLogger(__name__)
SHARD = 512  # windows per latent shard


def reconstruct_run(
    run_dir,
    data,
    format: str,
    out,
    split: str = "val",
    max_windows: int | None = 8,
    gifs: bool = True,
    options=None,
    device: str | None = None,
) -> int:
    """Reconstruct non-overlapping windows of `split`; write them as a SynthTown dataset plus GIFs of
    input (left) and reconstruction (right). Returns the number of windows written."""
    from dynamiccity.viz import render_3d, save_animation, tile_images

    model, _ = load_vae(run_dir, device=pick_device(device))
    cfg = model.cfg
    windows = open_dataset(
        data, format, frames=cfg.frames, stride=cfg.frames, splits=SPLITS[split], **(options or {})
    )
    check_grid(windows, cfg)
    indices = range(len(windows)) if max_windows is None else range(min(max_windows, len(windows)))
    pairs = []
    for i in indices:
        w = windows[i]
        with torch.no_grad():
            pred = model.decode(_encode(model, w.labels)).argmax(-1)[0]
        recon = pred.cpu().numpy().astype(np.uint8)
        name = f"{windows.scenes[w.scene].name.replace('/', '_')}_t{w.start:04d}"
        pairs.append((Scene(recon, w.poses, None, name=name, meta={"source_window": i}), "recon"))
        if gifs:
            frames = [
                tile_images(
                    [render_3d(w.labels[t], w.valid[t]), render_3d(recon[t])], captions=["input", "VAE"]
                )
                for t in range(cfg.frames)
            ]
            save_animation(frames, Path(out) / "gifs" / f"{name}.gif", fps=5)
    write_synthtown(out, pairs, windows.grid)
    return len(pairs)


def encode_run(
    run_dir,
    data,
    format: str,
    out,
    stride: int = 1,
    options=None,
    progress: bool = False,
    device: str | None = None,
) -> dict:
    """Encode every window (all splits) to its HexPlane; write shards, conditions and a manifest.

    LATENT_DIR/shard_XXXXX.safetensors: planes xy..tz (N, C, ...) float32, command (N,) int64, trajectory
    (N, T, 3) float32, layout (N, T, X/d, Y/d) uint8, previous (N,) int64 (-1: none), scene (N,), start (N,).
    LATENT_DIR/manifest.json: VAE checkpoint and its sha256, VAE config, per-channel latent mean/std,
    the voxel grid, windows, shards, scene names and splits.
    """
    from tqdm import tqdm

    model, meta = load_vae(run_dir, device=pick_device(device))
    cfg = model.cfg
    windows = open_dataset(data, format, frames=cfg.frames, stride=stride, **(options or {}))
    check_grid(windows, cfg)
    if len(windows) == 0:
        raise ValueError(f"{data}: no windows of {cfg.frames} frames.")
    out = Path(out)
    total, sq_total, count, shards = 0.0, 0.0, 0, []
    for first in tqdm(range(0, len(windows), SHARD), disable=not progress, unit="shard"):
        batch = [windows[i] for i in range(first, min(first + SHARD, len(windows)))]
        latents = HexPlane.cat([_encode(model, w.labels).map(torch.Tensor.cpu) for w in batch])
        tensors = {**latents.as_dict(), **_conditions(windows, batch, first)}
        path = out / f"shard_{first // SHARD:05d}.safetensors"
        with atomic_path(path) as tmp:
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
        shards.append(path.name)
        flat = torch.cat(
            [p.transpose(0, 1).reshape(cfg.latent_channels, -1) for p in latents.planes()], dim=1
        )
        total, sq_total, count = (
            total + flat.double().sum(1),
            sq_total + flat.double().square().sum(1),
            count + flat.shape[1],
        )
    mean = total / count
    std = (sq_total / count - mean.square()).clamp_min(1e-12).sqrt()
    manifest = {
        "vae_run": str(Path(run_dir).resolve()),
        "vae_checkpoint": meta["checkpoint"],
        "vae_sha256": file_sha256(meta["checkpoint"]),
        "vae_config": cfg.to_dict(),
        "latent_mean": mean.tolist(),
        "latent_std": std.tolist(),
        "planes": list(PLANES),
        "windows": len(windows),
        "frames": cfg.frames,
        "stride": stride,
        "layout_factor": windows.layout_factor,
        "grid": {
            "shape": list(windows.grid.shape),
            "extent": list(windows.grid.extent),
            "hz": windows.grid.hz,
        },
        "shards": shards,
        "shard_size": SHARD,
        "data": {"path": str(data), "format": format},
        "scenes": [{"name": s.name, "split": s.split} for s in windows.scenes],
    }
    write_text(out / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    return manifest


@torch.no_grad()
def _encode(model, labels: np.ndarray) -> HexPlane:
    device = next(model.parameters()).device
    return model.encode(torch.from_numpy(labels)[None].to(device))


def _conditions(windows, batch, first: int) -> dict[str, torch.Tensor]:
    previous = [windows.previous(first + j) for j in range(len(batch))]
    return {
        "command": torch.tensor([w.command for w in batch], dtype=torch.int64),
        "trajectory": torch.from_numpy(np.stack([w.trajectory for w in batch])),
        "layout": torch.from_numpy(np.stack([w.layout for w in batch]).astype(np.uint8)),
        "previous": torch.tensor([-1 if p is None else p for p in previous], dtype=torch.int64),
        "scene": torch.tensor([w.scene for w in batch], dtype=torch.int64),
        "start": torch.tensor([w.start for w in batch], dtype=torch.int64),
    }
