"""The forward process, its training loss and the samplers (diffusers schedulers), apart from the network."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from dynamiccity.config import StrictConfig
from dynamiccity.diffusion import SAMPLERS, Prediction


@dataclass(frozen=True)
class DiffusionConfig(StrictConfig):
    label = "diffusion config"

    train_steps: int = 1000
    beta_schedule: str = "linear"  # a diffusers name: linear, scaled_linear, squaredcos_cap_v2
    beta_start: float = 1e-4
    beta_end: float = 0.02
    prediction: Prediction = "epsilon"

    def __post_init__(self) -> None:
        if self.prediction not in Prediction.__args__:
            raise ValueError(f"prediction must be one of {Prediction.__args__}, got {self.prediction!r}.")

    def _common(self) -> dict[str, Any]:
        return {
            "num_train_timesteps": self.train_steps,
            "beta_schedule": self.beta_schedule,
            "beta_start": self.beta_start,
            "beta_end": self.beta_end,
            "prediction_type": self.prediction,
        }


def make_scheduler(cfg: DiffusionConfig, sampler: str):
    """A fresh diffusers scheduler for `sampler` (ddpm | ddim | dpmpp) on cfg's betas; latents are not clipped."""
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

    if sampler == "ddpm":
        return DDPMScheduler(**cfg._common(), clip_sample=False, variance_type="fixed_small")
    if sampler == "ddim":
        return DDIMScheduler(**cfg._common(), clip_sample=False, timestep_spacing="trailing")
    if sampler == "dpmpp":
        return DPMSolverMultistepScheduler(
            **cfg._common(), algorithm_type="dpmsolver++", solver_order=2, timestep_spacing="trailing"
        )
    raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}.")


Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Known:
    """What inpainting keeps (paper Eq. 13): clean maps `x0` (B, C, H, W) and `keep` (H, W), (B, 1, H, W) or
    x0's shape, 1 (True) where x0 is known. At every step of any sampler the known part of the sample is
    replaced by x0 noised to the step's noise level, so the network generates the rest in agreement with
    it; after the last step the known part is x0 exactly."""

    x0: torch.Tensor
    keep: torch.Tensor

    def __post_init__(self) -> None:
        try:
            torch.broadcast_shapes(self.keep.shape, self.x0.shape)
        except RuntimeError as err:
            raise ValueError(
                f"an inpainting mask of shape {tuple(self.keep.shape)} does not fit maps of shape "
                f"{tuple(self.x0.shape)}."
            ) from err

    def paste(self, x: torch.Tensor, noise_at: torch.Tensor | None, scheduler, generator) -> torch.Tensor:
        """x with its known part replaced by x0 at the noise level of training timestep `noise_at` (None:
        clean)."""
        x0 = self.x0.to(x.device, x.dtype)
        if noise_at is not None:
            noise = torch.randn(x.shape, generator=generator, device=_noise_device(generator, x.device))
            t = torch.full((x.shape[0],), int(noise_at), dtype=torch.long)
            x0 = scheduler.add_noise(x0.cpu(), noise.cpu(), t).to(x.device, x.dtype)
        keep = self.keep.to(x.device, x.dtype)
        return keep * x0 + (1 - keep) * x


def _noise_device(generator: torch.Generator | None, device: torch.device | str) -> torch.device | str:
    """Noise is drawn where the generator lives, so a seed gives the same scene on every device."""
    return generator.device if generator is not None else device


class Diffusion:
    """The forward process and its training loss, and sampling with any of the samplers."""

    def __init__(self, cfg: DiffusionConfig) -> None:
        self.cfg = cfg
        self.train_scheduler = make_scheduler(cfg, "ddpm")

    def noised(
        self,
        x0: torch.Tensor,
        mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        t_min: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x_t, t, target) of a training step: clean maps x0 noised at timesteps drawn from
        [t_min, train_steps), and what the network must predict there (the noise or the velocity). mask:
        noise only where it is 1."""
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        t = torch.randint(t_min, self.cfg.train_steps, (x0.shape[0],), generator=generator, device=x0.device)
        if mask is not None:
            noise = noise * mask
        xt = self.train_scheduler.add_noise(x0, noise, t)
        if self.cfg.prediction == "epsilon":
            return xt, t, noise
        return xt, t, self.train_scheduler.get_velocity(x0, noise, t)

    def loss(
        self,
        model: Denoiser,
        x0: torch.Tensor,
        mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Masked MSE between the model's prediction and its target at random timesteps.

        model(x_t, t) -> prediction; x0: clean maps (B, C, H, W); mask: (H, W) or broadcastable, 1 on real
        features: the loss is the mean over real features only. weight: per-position weights of that mean
        (default: the mask), zero on padding.
        """
        xt, t, target = self.noised(x0, mask, generator)
        err = (model(xt, t) - target).square()
        weight = mask if weight is None else weight
        if weight is None:
            return err.mean()
        weight = weight.expand_as(err)
        return (err * weight).sum() / weight.sum().clamp_min(1)

    @torch.no_grad()
    def sample(
        self,
        model: Denoiser,
        shape: tuple[int, ...],
        sampler: str = "dpmpp",
        steps: int = 20,
        generator: torch.Generator | None = None,
        mask: torch.Tensor | None = None,
        device: torch.device | str = "cpu",
        progress: Callable[[int], None] | None = None,
        known: Known | None = None,
        resample: int = 1,
    ) -> torch.Tensor:
        """Draw maps of `shape` by running `sampler` for `steps` steps from pure noise.

        The same generator gives the same samples. mask keeps padding at exactly zero throughout. known:
        inpaint, keeping the known part of `known.x0` (see `Known`). resample: with `known`, run every step
        this many times, noising its result back to the step's level in between (RePaint's resampling,
        Lugmayr et al. 2022), so that what is generated can adjust to what is kept beyond one step's reach;
        `resample` times the network evaluations.
        """
        if resample < 1:
            raise ValueError(f"resample must be >= 1, got {resample}.")
        scheduler = make_scheduler(self.cfg, sampler)
        scheduler.set_timesteps(steps, device=device)
        x = (
            torch.randn(shape, generator=generator, device=_noise_device(generator, device)).to(device)
            * scheduler.init_noise_sigma
        )
        timesteps = list(scheduler.timesteps)
        rounds = resample if known is not None else 1
        if known is not None:
            x = known.paste(x, timesteps[0], self.train_scheduler, generator)
        if mask is not None:
            x = x * mask
        for i, t in enumerate(timesteps):
            tt = torch.full((shape[0],), int(t), device=device, dtype=torch.long)
            after = timesteps[i + 1] if i + 1 < len(timesteps) else None
            for round_ in range(rounds):
                before = copy.deepcopy(scheduler) if round_ + 1 < rounds else None  # multistep state
                out = model(scheduler.scale_model_input(x, t), tt)
                x = scheduler.step(out, t, x, generator=generator).prev_sample
                if known is not None:
                    x = known.paste(x, after, self.train_scheduler, generator)
                if before is not None:
                    x = self._renoise(x, after, t, generator)
                    scheduler = before
                if mask is not None:
                    x = x * mask
            if progress is not None:
                progress(i)
        return x

    def _renoise(
        self, x: torch.Tensor, at: torch.Tensor | None, to: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """x at the noise level of training timestep `at` (None: clean) taken forward to the level of `to`:
        q(x_to | x_at) of the variance-preserving process."""
        alphas = self.train_scheduler.alphas_cumprod
        ratio = alphas[int(to)] / (alphas[int(at)] if at is not None else torch.tensor(1.0))
        noise = torch.randn(x.shape, generator=generator, device=_noise_device(generator, x.device))
        return ratio.sqrt().to(x.dtype) * x + (1 - ratio).sqrt().to(x.dtype) * noise.to(x.device, x.dtype)


def check_interval(interval: tuple[int, int] | None) -> None:
    """Refuse a guidance interval (lo, hi) that is not 0 <= lo <= hi (None: every step, always fine)."""
    if interval is not None and not 0 <= interval[0] <= interval[1]:
        raise ValueError(f"a guidance interval must be 0 <= lo <= hi, got {interval}.")


def guided(model, cond, scale: float, interval: tuple[int, int] | None = None) -> Denoiser:
    """Classifier-free guidance (paper Eq. 12): e(x, null) + scale * (e(x, cond) - e(x, null)), both from
    one doubled batch; scale 1 (or no `cond`) is the plain conditional model (one half only).

    `interval` (lo, hi) guides only the steps whose training timestep lies in lo..hi, the conditional model
    alone elsewhere (guidance in a limited interval, Kynkaanniemi et al. 2024): each step outside it costs
    half a guided step. None guides every step.

    model(x, t, cond) -> prediction; cond: the batch's `dynamiccity.dit.conditions.Conditions` or None. A
    model that can `prepare` its conditions (`HexPlaneDiT.prepare`) does so once, at the first step: every
    later step reuses their embedding and its cross-attention keys and values.
    """
    check_interval(interval)
    conditional = _prepared_once(model, cond)
    if cond is None or scale == 1.0:
        return conditional
    both_halves = _prepared_once(model, cond.with_null_half())

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if interval is not None and not (interval[0] <= int(t.max()) and int(t.min()) <= interval[1]):
            return conditional(x, t)
        with_cond, without = both_halves(torch.cat([x, x]), torch.cat([t, t])).chunk(2)
        return without + scale * (with_cond - without)

    return denoise


def _prepared_once(model, cond) -> Denoiser:
    """model(x, t, cond) with `cond` prepared at the first call, per batch size, where the model can."""
    prepare = getattr(model, "prepare", None)
    if prepare is None:
        return lambda x, t: model(x, t, cond)
    ready: dict[int, object] = {}

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.shape[0] not in ready:
            ready[x.shape[0]] = prepare(cond, x.shape[0])
        return model(x, t, ready[x.shape[0]])

    return denoise
