"""`dynamiccity sample`: HexPlanes from a trained DiT, decoded by its VAE, written as scenes and GIFs."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from dynamiccity.atomic import write_text
from dynamiccity.data import Scene, write_synthtown
from dynamiccity.device import pick_device
from dynamiccity.diffusion import SAMPLERS
from dynamiccity.diffusion.process import Diffusion
from dynamiccity.pipeline.runs import Trained, TrainedDiT, load_dit, load_vae
from dynamiccity.pipeline.vae_run import VAERunConfig
from dynamiccity.vae.model import HexPlaneVAE


@dataclass(frozen=True)
class SampleSpec:
    """How to sample: `sampler` (one of `diffusion.SAMPLERS`) for `steps` steps, `batch` scenes at a time,
    from `seed`. The same spec gives the same scenes on a device."""

    sampler: str = "dpmpp"
    steps: int = 20
    seed: int = 0
    batch: int = 4

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}.")
        if self.steps < 1 or self.batch < 1:
            raise ValueError(f"steps and batch must be >= 1, got {self.steps} and {self.batch}.")


def generate(
    dit_dir: str | Path,
    vae_dir: str | Path,
    num: int,
    spec: SampleSpec = SampleSpec(),
    device: str | None = None,
) -> tuple[np.ndarray, dict]:
    """`num` scenes (num, T, X, Y, Z) uint8 and facts about the run (seconds per scene, checkpoints).

    The DiT's EMA weights are used; the VAE must be the one that encoded the DiT's latents (its checkpoint
    hash is checked against the DiT run's manifest). The noise is drawn on the CPU, so devices differ only
    by their arithmetic.
    """
    device = pick_device(device)
    dit, vae = load_pair(dit_dir, vae_dir, device)
    return generate_with(dit, vae, num, spec, device)


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
) -> tuple[np.ndarray, dict]:
    """`generate` with models already loaded (see `load_pair`)."""
    diffusion = Diffusion(dit.config.diffusion)
    model = dit.model
    c, (h, w) = dit.config.model.latent_channels, (model.rollout.height, model.rollout.width)
    g = torch.Generator().manual_seed(spec.seed)
    scenes, start = [], time.perf_counter()
    for first in range(0, num, spec.batch):
        n = min(spec.batch, num - first)
        grid = diffusion.sample(
            model, (n, c, h, w), spec.sampler, spec.steps, generator=g, mask=model.pixel_mask, device=device
        )
        hexplane = dit.manifest.denormalise(model.unroll(grid))
        with torch.no_grad():
            scenes.append(vae.model.decode(hexplane).argmax(-1).to(torch.uint8).cpu().numpy())
    seconds = time.perf_counter() - start
    facts = {
        **asdict(spec),
        "num": num,
        "seconds_per_scene": seconds / max(1, num),
        "dit_checkpoint": str(dit.checkpoint),
        "dit_step": dit.step,
        "vae_checkpoint": str(vae.checkpoint),
        "latents": dit.config.latents,
    }
    return np.concatenate(scenes), facts


def sample(
    dit_dir: str | Path,
    vae_dir: str | Path,
    num: int,
    out: str | Path,
    spec: SampleSpec = SampleSpec(),
    gifs: bool = True,
    device: str | None = None,
) -> dict:
    """Generate and write OUT as a SynthTown dataset (scenes sample_XXXX) + gifs/ + sample.json."""
    from dynamiccity.viz import render_3d, save_animation

    device = pick_device(device)
    dit, vae = load_pair(dit_dir, vae_dir, device)
    scenes, facts = generate_with(dit, vae, num, spec, device)
    grid = dit.manifest.grid
    out = Path(out)
    poses = np.broadcast_to(np.eye(4), (scenes.shape[1], 4, 4)).copy()
    pairs = [
        (Scene(s, poses, None, name=f"sample_{i:04d}", meta={"seed": spec.seed}), "generated")
        for i, s in enumerate(scenes)
    ]
    write_synthtown(out, pairs, grid)
    if gifs:
        for i, s in enumerate(scenes):
            save_animation([render_3d(f) for f in s], out / "gifs" / f"sample_{i:04d}.gif", fps=5)
    write_text(out / "sample.json", json.dumps(facts, indent=1) + "\n")
    return facts
