"""`dynamiccity sample`: HexPlanes from a trained DiT, decoded by the VAE, written as scenes and GIFs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from dynamiccity.atomic import write_text
from dynamiccity.data import Scene, write_synthtown
from dynamiccity.data.scene import GridSpec
from dynamiccity.diffusion import Diffusion
from dynamiccity.dit.latents import denormalise, read_manifest
from dynamiccity.dit.run import load_dit
from dynamiccity.train.checkpoint import file_sha256
from dynamiccity.train.distributed import pick_device
from dynamiccity.vae.run import load_vae


def generate(
    dit_dir, vae_dir, num: int, sampler: str = "dpmpp", steps: int = 20, seed: int = 0, batch: int = 4,
    device: str | None = None,
) -> tuple[np.ndarray, dict]:  # fmt: skip
    """`num` scenes (num, T, X, Y, Z) uint8 and facts about the run (seconds per scene, checkpoints).

    Seeded: the same (seed, num, batch) gives the same scenes on a device (the noise is drawn on the CPU,
    so devices differ only by their arithmetic). The DiT's EMA weights are used.
    """
    device = pick_device(device)
    dit, cfg, dit_meta = load_dit(dit_dir, device=device)
    vae, vae_meta = load_vae(vae_dir, device=device)
    manifest = read_manifest(cfg.latents)
    if file_sha256(vae_meta["checkpoint"]) != manifest["vae_sha256"]:
        raise ValueError(
            f"{vae_meta['checkpoint']}: not the VAE checkpoint that encoded {cfg.latents} (sha256 differs)."
        )
    diffusion = Diffusion(cfg.diffusion)
    c, (h, w) = cfg.model.latent_channels, (dit.rollout.height, dit.rollout.width)
    g = torch.Generator().manual_seed(seed)
    scenes, start = [], time.perf_counter()
    for first in range(0, num, batch):
        n = min(batch, num - first)
        grid = diffusion.sample(
            dit, (n, c, h, w), sampler, steps, generator=g, mask=dit.pixel_mask, device=device
        )
        hexplane = denormalise(manifest, dit.unroll(grid))
        with torch.no_grad():
            scenes.append(vae.decode(hexplane).argmax(-1).to(torch.uint8).cpu().numpy())
    seconds = time.perf_counter() - start
    facts = {
        "sampler": sampler,
        "steps": steps,
        "seed": seed,
        "num": num,
        "seconds_per_scene": seconds / max(1, num),
        "dit_checkpoint": dit_meta["checkpoint"],
        "dit_step": dit_meta["step"],
        "vae_checkpoint": vae_meta["checkpoint"],
        "latents": cfg.latents,
    }
    return np.concatenate(scenes), facts


def sample_run(
    dit_dir, vae_dir, num: int, out, sampler: str = "dpmpp", steps: int = 20, seed: int = 0,
    batch: int = 4, gifs: bool = True, device: str | None = None,
) -> dict:  # fmt: skip
    """Generate and write OUT as a SynthTown dataset (scenes sample_XXXX) + gifs/ + sample.json."""
    from dynamiccity.viz import render_3d, save_animation

    scenes, facts = generate(dit_dir, vae_dir, num, sampler, steps, seed, batch, device)
    grid = _grid(read_manifest(facts["latents"]), scenes.shape[2:])
    out = Path(out)
    frames = scenes.shape[1]
    poses = np.broadcast_to(np.eye(4), (frames, 4, 4)).copy()
    pairs = [
        (Scene(s, poses, None, name=f"sample_{i:04d}", meta={"seed": seed}), "generated")
        for i, s in enumerate(scenes)
    ]
    write_synthtown(out, pairs, grid)
    if gifs:
        for i, s in enumerate(scenes):
            save_animation([render_3d(f) for f in s], out / "gifs" / f"sample_{i:04d}.gif", fps=5)
    write_text(out / "sample.json", json.dumps(facts, indent=1) + "\n")
    return facts


def _grid(manifest: dict, shape: tuple[int, ...]) -> GridSpec:
    if "grid" in manifest:
        g = manifest["grid"]
        return GridSpec(tuple(g["shape"]), tuple(g["extent"]), float(g["hz"]))
    return GridSpec(tuple(shape), (-25.6, -25.6, -2.0, 25.6, 25.6, 1.0), hz=10.0)
