"""Noise schedule, training objective and samplers, apart from the network (diffusers schedulers).

One `DiffusionConfig` fixes the forward process (betas, number of training steps) and what the network
predicts (epsilon or v). Training noise comes from diffusers' DDPM scheduler; sampling uses DDPM
(ancestral), DDIM or DPM-Solver++ built from the same betas, so any sampler can be used with any model.
All samplers work on maps whose padding is fixed at zero: a `mask` keeps it there.

The process and samplers live in `dynamiccity.diffusion.process`; this module holds only the names a
command line offers, so that listing them imports no torch.
"""

from typing import Literal

Prediction = Literal["epsilon", "v_prediction"]
"""What the network predicts: the noise (epsilon) or the velocity v = alpha * noise - sigma * x0."""

SAMPLERS: tuple[str, ...] = ("ddpm", "ddim", "dpmpp")
"""DDPM (ancestral), DDIM, DPM-Solver++ (2nd order multistep)."""
