"""Refined encoding: the encoder's latent, improved by gradient steps on the window it encodes.

The encoder is amortised: one pass gives every window a latent, and measured on SynthTown
(`docs/results/vae-refine-synthtown/latent_fit.py`, docs/vae.md) that latent is far from the best the decoder can decode: with the
decoder frozen, a couple of hundred Adam steps on the latent of one window take the shipped VAE from about
0.35 to about 0.8 mIoU, and remove most of its temporal ghosts. Refinement closes that gap at encoding time
(semi-amortised inference: the encoder's output is the starting point, the window's own reconstruction loss
the objective), for every use of an encoding: scoring, reconstructing, encoding latents for the DiT.

The objective is the VAE's training loss on the one window (cross-entropy weighted by the window's own class
frequencies, as training weighs the data's, plus Lovasz-softmax), plus `prior_weight` times the mean part of
the KL to N(0, I), 0.5 * mean(z^2), which keeps the latent near the region the DiT learns. Only the latent
moves; the network is left as it is (gradients are taken with respect to the latent alone).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dynamiccity.device import autocast
from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.vae.losses import class_weights, vae_loss
from dynamiccity.vae.model import HexPlaneVAE


@dataclass(frozen=True)
class Refinement:
    """steps: Adam steps on the latent (0: the encoder's latent as it is); lr: their step size, in latent
    units; lovasz_weight: of the Lovasz term, as in training; prior_weight: of 0.5 * mean(z^2); bf16: decode
    under bf16 autocast where the device has it (`dynamiccity.device.bf16_pays`; off by default: on an AVX-512
    BF16 CPU a step of the shipped SynthTown VAE takes 0.66 s with it and 0.54 s without, 2026-12-01);
    lovasz_bins: None sorts the Lovasz term's errors exactly, an integer orders them by that many error bins
    (`vae.losses.binned_lovasz_grad`; by default 4096: on 4 fresh SynthTown windows, 100 steps of the shipped
    VAE reach mIoU 0.7588 binned and 0.7595 sorted, in 254 s instead of 282 s on 2 AVX2 threads);
    frames_per_step: None decodes every frame of the window at each step; F decodes F evenly spaced frames
    (every T/F-th, the offset turning from step to step), at about F/T of a step's cost, so that T/F times
    as many steps fit a time budget (on 24 fresh SynthTown windows, the centred VAE at step 1000: 7 steps of
    all 8 frames 0.853 mIoU, 14 steps of 4 frames 0.862; docs/vae.md)."""

    steps: int = 200
    lr: float = 0.2
    lovasz_weight: float = 1.0
    prior_weight: float = 0.0
    bf16: bool = False
    lovasz_bins: int | None = 4096
    frames_per_step: int | None = None

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"refinement steps must be >= 0, got {self.steps}.")
        if not self.lr > 0:
            raise ValueError(f"refinement lr must be > 0, got {self.lr}.")
        if self.prior_weight < 0 or self.lovasz_weight < 0:
            raise ValueError("refinement loss weights must be >= 0.")
        if self.lovasz_bins is not None and self.lovasz_bins < 1:
            raise ValueError(f"refinement lovasz_bins must be None or >= 1, got {self.lovasz_bins}.")
        if self.frames_per_step is not None and self.frames_per_step < 1:
            raise ValueError(f"refinement frames_per_step must be None or >= 1, got {self.frames_per_step}.")

    def frames_at(self, step: int, frames: int, device: torch.device) -> torch.Tensor | None:
        """The frames (F,) that refinement step `step` of a window of `frames` decodes; None: all."""
        if self.frames_per_step is None or self.frames_per_step == frames:
            return None
        if frames % self.frames_per_step:
            raise ValueError(
                f"refinement frames_per_step {self.frames_per_step} does not divide the window's {frames} frames."
            )
        every = frames // self.frames_per_step
        return torch.arange(step % every, frames, every, device=device)


def window_weights(labels: torch.Tensor, valid: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class weights from the classes' voxel counts in the valid voxels of `labels` (`class_weights`)."""
    counts = torch.bincount(labels[valid].long().reshape(-1), minlength=num_classes)[:num_classes]
    return class_weights(counts.double()).to(labels.device)


def refine_latent(
    model: HexPlaneVAE,
    labels: torch.Tensor,
    latent: HexPlane | None = None,
    valid: torch.Tensor | None = None,
    spec: Refinement = Refinement(),
) -> HexPlane:
    """The latent of labels (B, T, X, Y, Z), refined: from `latent` (default: the encoder's posterior
    mean), `spec.steps` Adam steps on the reconstruction loss of `labels` (voxels outside `valid` ignored),
    each on the frames `spec.frames_at` names.
    The model is used in eval mode and its parameters receive no gradient."""
    latent = model.encode(labels) if latent is None else latent
    if spec.steps == 0:
        return latent
    valid = torch.ones_like(labels, dtype=torch.bool) if valid is None else valid.bool()
    weights = window_weights(labels, valid, model.cfg.num_classes)
    planes = [p.detach().clone().requires_grad_(True) for p in latent.planes()]
    optim = torch.optim.Adam(planes, lr=spec.lr)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            for step in range(spec.steps):
                current = HexPlane.from_planes(dict(zip(PLANES, planes, strict=True)))
                prior = sum(0.5 * (p**2).sum() for p in planes) / sum(p.numel() for p in planes)
                frames = spec.frames_at(step, labels.shape[1], labels.device)
                with autocast(labels.device, spec.bf16):
                    logits = model.decode(current, frames)
                seen = slice(None) if frames is None else frames
                terms = vae_loss(
                    logits,
                    labels[:, seen],
                    prior,
                    weights,
                    valid[:, seen],
                    spec.lovasz_weight,
                    spec.prior_weight,
                    spec.lovasz_bins,
                )
                optim.zero_grad(set_to_none=True)
                terms.total.backward(inputs=planes)  # the latent's gradient alone; the network's untouched
                optim.step()
    finally:
        model.train(was_training)
    return HexPlane.from_planes({n: p.detach() for n, p in zip(PLANES, planes, strict=True)})


def encode_window(
    model: HexPlaneVAE,
    labels: torch.Tensor,
    valid: torch.Tensor | None = None,
    refine: Refinement | None = None,
) -> HexPlane:
    """The encoding every pipeline step uses: the encoder's latent of labels (B, T, X, Y, Z), refined on
    them with `refine` when given (None: as the encoder gives it)."""
    latent = model.encode(labels)
    return latent if refine is None else refine_latent(model, labels, latent, valid, refine)
