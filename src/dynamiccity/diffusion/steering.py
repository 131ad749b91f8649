"""Steering a sampler by a differentiable objective on what it is drawing (reconstruction guidance).

At every step the network's prediction says what the clean sample would be (x0); a steer takes a few
gradient steps on that estimate to lower an objective (for example: disagreement of the decoded scene with
a requested layout) and hands the sampler the prediction that leads to the moved estimate. Only the
objective is differentiated, never the network, so a step costs the objective's forward and backward pass
per iteration. It works with every sampler, since each one consumes the network's prediction; it composes
with classifier-free guidance (it steers the guided prediction).

Each gradient is scaled to unit root-mean-square per sample, so `scale` is the distance one iteration moves
the estimate in units of the (normalised) latent's spread, whatever the objective's magnitude. A steer of
an edit moves only what the edit generates (`region`): the kept part is pasted back at every step anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from dynamiccity.diffusion import Prediction
from dynamiccity.diffusion.process import Denoiser, Diffusion

Objective = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Steer:
    """`objective(x0)` -> (B,) losses of clean estimates x0 (B, C, H, W), lowered at every step by
    `iterations` gradient steps of `scale` each (module docstring), moving x0 only where `region`
    (broadcastable to x0, 1 where it may move) is non-zero; None: everywhere."""

    objective: Objective
    scale: float
    iterations: int = 3
    region: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if not self.scale >= 0:
            raise ValueError(f"a steer's scale must be >= 0, got {self.scale}.")
        if self.iterations < 1:
            raise ValueError(f"a steer needs at least one iteration, got {self.iterations}.")

    def moved(self, x0: torch.Tensor) -> torch.Tensor:
        """x0 after the gradient steps on the objective."""
        y = x0.detach()
        for _ in range(self.iterations):
            with torch.enable_grad():
                y = y.requires_grad_(True)
                (grad,) = torch.autograd.grad(self.objective(y).sum(), y)
            if self.region is not None:
                grad = grad * self.region.to(grad.device, grad.dtype)
            rms = grad.flatten(1).square().mean(1).sqrt().clamp_min(1e-12)
            y = (y - self.scale * grad / rms.view(-1, *[1] * (grad.dim() - 1))).detach()
        return y


def steered(denoiser: Denoiser, steer: Steer, diffusion: Diffusion) -> Denoiser:
    """`denoiser` whose every prediction leads to its clean estimate moved by `steer` (module docstring)."""
    if steer.scale == 0:
        return denoiser
    alphas = diffusion.train_scheduler.alphas_cumprod
    prediction: Prediction = diffusion.cfg.prediction

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = denoiser(x, t)
        a = alphas[t.long().cpu()].to(x.device, x.dtype).view(-1, *[1] * (x.dim() - 1))
        keep, noise = a.sqrt(), (1 - a).sqrt()
        if prediction == "epsilon":
            x0 = (x - noise * out) / keep
            return (x - keep * steer.moved(x0)) / noise
        x0 = keep * x - noise * out  # v-prediction: v = sqrt(a) eps - sqrt(1 - a) x0
        return out + (x0 - steer.moved(x0)) / noise

    return denoise
