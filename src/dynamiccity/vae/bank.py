"""A bank of per-window latents, each moved by its own Adam between visits: the latents of an auto-decoder.

A decoder trained only on its encoder's latents never learns to draw what no encoder latent asks of it: the
shipped SynthTown VAE draws no bicycle from any latent, refined or not (docs/vae.md, "the decoder never
draws a bicycle"). A decoder trained on refined latents does. The bank keeps each window's refined latent
from one visit to the next, so that the latents improve with the decoder instead of being refined from the
encoder's each time (which, measured, is too short a refinement to teach anything).

The bank's state is a flat {name: tensor} map, so that it goes into a safetensors checkpoint as it is:
`latent.<plane>`, `exp_avg.<plane>`, `exp_avg_sq.<plane>` (N, C, a, b) for the six planes, and `steps` (N,)
float, the Adam steps each window has taken.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dynamiccity.hexplane import PLANES, HexPlane

MOMENTS = ("exp_avg", "exp_avg_sq")
"""Adam's per-element state, kept per window beside its latent."""


class LatentBank:
    """The latents of N windows (a HexPlane of batch N to start from) and the Adam state of each."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        expected = {f"{kind}.{p}" for kind in ("latent", *MOMENTS) for p in PLANES} | {"steps"}
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise ValueError(f"a latent bank holds {sorted(expected)}; missing {missing}, unknown {extra}.")
        self.state = state

    @classmethod
    def starting_at(cls, latents: HexPlane) -> LatentBank:
        """A bank of `latents.batch_size` windows starting at `latents`, Adam's moments at zero."""
        state = {
            f"latent.{name}": plane.detach().clone().float() for name, plane in latents.as_dict().items()
        }
        for kind in MOMENTS:
            state |= {f"{kind}.{name}": torch.zeros_like(state[f"latent.{name}"]) for name in PLANES}
        state["steps"] = torch.zeros(latents.batch_size, device=latents.xy.device)
        return cls(state)

    def __len__(self) -> int:
        return self.state["steps"].shape[0]

    def latent(self, slots: list[int]) -> HexPlane:
        """The latents of windows `slots` as a HexPlane of batch len(slots)."""
        return HexPlane.from_planes({p: self.state[f"latent.{p}"][slots] for p in PLANES})

    def visit(self, slot: int, loss: Callable[[HexPlane], torch.Tensor], steps: int, lr: float) -> HexPlane:
        """Move window `slot`'s latent by `steps` Adam steps (step size `lr`, latent units) down `loss`
        (a HexPlane of batch 1 -> a scalar), continuing the Adam state of its earlier visits; returns the
        new latent, detached. Gradients are taken with respect to the latent alone: whatever network `loss`
        runs receives none."""
        planes = [self.state[f"latent.{p}"][slot : slot + 1].clone().requires_grad_(True) for p in PLANES]
        optim = torch.optim.Adam(planes, lr=lr)
        for name, plane in zip(PLANES, planes, strict=True):
            optim.state[plane] = {
                "step": self.state["steps"][slot].detach().clone().cpu(),
                **{kind: self.state[f"{kind}.{name}"][slot : slot + 1].clone() for kind in MOMENTS},
            }
        with torch.enable_grad():
            for _ in range(steps):
                value = loss(HexPlane.from_planes(dict(zip(PLANES, planes, strict=True))))
                grads = torch.autograd.grad(value, planes)
                for plane, grad in zip(planes, grads, strict=True):
                    plane.grad = grad
                optim.step()
        for name, plane in zip(PLANES, planes, strict=True):
            self.state[f"latent.{name}"][slot] = plane.detach()[0]
            for kind in MOMENTS:
                self.state[f"{kind}.{name}"][slot] = optim.state[plane][kind][0]
        self.state["steps"][slot] += steps
        return self.latent([slot])

    def rows(self, slots: list[int]) -> dict[str, torch.Tensor]:
        """Everything the bank holds for windows `slots`: {name: (len(slots), ...)}."""
        return {name: tensor[slots] for name, tensor in self.state.items()}

    def set_rows(self, slots: list[int], rows: dict[str, torch.Tensor]) -> None:
        """Overwrite windows `slots` with `rows` (as `rows` gives them)."""
        for name, tensor in self.state.items():
            tensor[slots] = rows[name].to(tensor.dtype)
