"""The core of generation: the sampler's settings (`SampleSpec`), the DiT and VAE pair, drawing normalised HexPlane
maps from the DiT (guided, keeping a known part, steered) and decoding them to voxels. Everything that
generates or edits scenes builds on these."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from dynamiccity.diffusion import SAMPLERS
from dynamiccity.diffusion.process import Diffusion, Known, check_interval, guided
from dynamiccity.diffusion.steering import Steer, steered
from dynamiccity.dit.conditions import Conditions
from dynamiccity.dit.editing import regenerated
from dynamiccity.generation.context_steer import context_steer
from dynamiccity.generation.features import Steering
from dynamiccity.runs.loading import Trained, TrainedDiT, load_dit, load_vae
from dynamiccity.runs.vae import VAERunConfig
from dynamiccity.vae.model import HexPlaneVAE


@dataclass(frozen=True)
class SampleSpec:
    """The sampler's settings: `sampler` (one of `diffusion.SAMPLERS`) for `steps` steps, `batch` scenes at a
    time, from `seed`, with classifier-free guidance at `cfg_scale` (paper Eq. 12; 1: none) when
    conditioned, on the steps whose training timestep lies in `guidance_interval` (lo, hi) (None: every
    step; `diffusion.process.guided`). What a generation does beyond sampling is asked for apart
    (`generation.features`). The same spec gives the same scenes on a device."""

    sampler: str = "dpmpp"
    steps: int = 20
    seed: int = 0
    batch: int = 4
    cfg_scale: float = 1.0
    guidance_interval: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}.")
        if self.steps < 1 or self.batch < 1:
            raise ValueError(f"steps and batch must be >= 1, got {self.steps} and {self.batch}.")
        if not self.cfg_scale >= 0:
            raise ValueError(f"cfg_scale must be >= 0, got {self.cfg_scale}.")
        check_interval(self.guidance_interval)

    def batches(self, num: int) -> Iterator[tuple[int, int]]:
        """The batches of `num` scenes sampled together: (first scene, scenes in the batch) each."""
        for first in range(0, num, self.batch):
            yield first, min(self.batch, num - first)


DEFAULT_SPEC = SampleSpec()
"""The sampler settings a caller that names none gets."""


def load_pair(
    dit_dir: str | Path, vae_dir: str | Path, device: torch.device
) -> tuple[TrainedDiT, Trained[HexPlaneVAE, VAERunConfig]]:
    """A trained DiT and the VAE that encoded its latents (checked by the checkpoint's hash)."""
    dit = load_dit(dit_dir, device=device)
    vae = load_vae(vae_dir, device=device)
    dit.manifest.check_vae(vae.checkpoint)
    return dit, vae


def batch_conditions(cond: Conditions | None, first: int, n: int, num: int) -> Conditions | None:
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
    resample: int = 1,
) -> torch.Tensor:
    """n normalised rolled-out HexPlanes (n, C, H, W) from the DiT, guided by `cond` at spec.cfg_scale,
    keeping `known` (inpainting) when given, with `resample` rounds per step (`features.Repaint`), steered
    by `steer` (`diffusion.steering`) when given."""
    model = dit.model
    shape = (n, dit.config.model.latent_channels, model.rollout.height, model.rollout.width)
    diffusion = Diffusion(dit.config.diffusion)
    denoiser = guided(model, cond, spec.cfg_scale, spec.guidance_interval)
    if steer is not None:
        denoiser = steered(denoiser, steer, diffusion)
    return diffusion.sample(
        denoiser, shape, spec.sampler, spec.steps, generator=g, mask=model.pixel_mask, device=device,
        known=known, resample=resample,
    )  # fmt: skip


def keep_map(dit: TrainedDiT, xy: torch.Tensor, where: str = "all") -> torch.Tensor:
    """What an edit keeps of the DiT's rolled-out map (1, 1, H, W) float: 0 on the HexPlane features that the
    latent XY mask `xy` (X', Y') regenerates (`dit.editing.regenerated`, with `where`), 1 elsewhere."""
    rollout = dit.model.rollout
    return 1.0 - rollout.roll(regenerated(xy, rollout.sizes, where).map(lambda p: p.float()))


def decode_logits(
    dit: TrainedDiT, vae: Trained[HexPlaneVAE, VAERunConfig], maps: torch.Tensor
) -> torch.Tensor:
    """Rolled-out normalised HexPlanes (n, C, H, W) -> the VAE decoder's logits (n, T, X, Y, Z, K),
    differentiable in `maps`."""
    return vae.model.decode(dit.manifest.denormalise(dit.model.unroll(maps)))


def edit_steer(
    models: tuple[TrainedDiT, Trained[HexPlaneVAE, VAERunConfig]],
    steering: Steering,
    known: Known,
    context: np.ndarray,
    kept: np.ndarray,
) -> Steer | None:
    """The steer of an edit that keeps `known` towards its context at `steering.context`
    (`generation.context_steer`): the scene `context` (T, X, Y, Z) or (B, T, X, Y, Z) as the edited window sees
    it, holding where `kept` (X, Y) or (B, T, X, Y) is True; None at scale 0."""
    dit, vae = models
    return context_steer(
        partial(decode_logits, dit, vae), torch.from_numpy(np.ascontiguousarray(context)),
        torch.from_numpy(np.ascontiguousarray(kept)), 1 - known.keep, steering.context,
        steering.iterations,
    )  # fmt: skip


@torch.no_grad()
def decode_maps(dit: TrainedDiT, vae: Trained[HexPlaneVAE, VAERunConfig], maps: torch.Tensor) -> np.ndarray:
    """Rolled-out normalised HexPlanes -> decoded windows (n, T, X, Y, Z) uint8."""
    return decode_logits(dit, vae, maps).argmax(-1).to(torch.uint8).cpu().numpy()
