"""Probe (issues 39/40): where the decoder reads a window and where the DiT misses it. On N training windows of a
DiT's latent folder, each decoded as encoded (the reference; mIoU against it throughout):

1. plane blame: the DiT's one-step x0 prediction at t = 50 / 100 / 200 put into one plane, the others as
   encoded, beside the whole prediction and the noised input itself (x_t / sqrt(abar), "identity");
2. the xy plane's detail: xy averaged over 2 x 2 / 4 x 4 cell blocks (and the share of its variation across
   windows inside such blocks), shrunk towards the windows' mean, noised, or replaced by the mean;
3. what the DiT draws (DPM-Solver++ 20) and its x0 errors, split into the xy plane's coarse part (2 x 2 block
   means) and the detail inside blocks (energy per element).

    python xy_detail.py DIT_RUN VAE_RUN [N]
"""

import sys

import numpy as np
import torch
import torch.nn.functional as F
from probes import decode, miou

from dynamiccity.diffusion.process import Diffusion
from dynamiccity.dit.conditions import Conditions
from dynamiccity.generation.sampling import SampleSpec, sample_maps
from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.runs.latents import LatentSet
from dynamiccity.runs.loading import load_dit, load_vae

torch.set_grad_enabled(False)
dit, vae = load_dit(sys.argv[1]), load_vae(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 16
model = dit.model
scheduler = Diffusion(dit.config.diffusion).train_scheduler


def score(z: HexPlane) -> float:
    return round(float(np.mean([miou(a, b) for a, b in zip(decode(dit, vae, z), reference, strict=True)])), 3)


def lowpass(x: torch.Tensor, k: int = 2) -> torch.Tensor:
    return F.interpolate(F.avg_pool2d(x, k), scale_factor=k, mode="nearest")


def split(x: torch.Tensor) -> list[float]:
    """Energy per element of x's 2 x 2 block means and of what lies inside the blocks."""
    low = lowpass(x)
    return [round(float(low.square().mean()), 4), round(float((x - low).square().mean()), 4)]


encoded = LatentSet(dit.config.latents, splits=("train",))
items = [encoded[i] for i in np.linspace(0, len(encoded) - 1, n).round().astype(int)]
batch = {k: torch.stack([r[k] for r in items]) for k in items[0]}
clean = LatentSet.hexplane(batch)
planes = clean.as_dict()
reference = decode(dit, vae, clean)
x0 = model.rollout.roll(clean) * model.pixel_mask
cond = Conditions(command=batch["command"], trajectory=batch["trajectory"])


def with_planes(**new: torch.Tensor) -> HexPlane:
    return HexPlane.from_planes(planes | new)


def x0_prediction(t: int) -> tuple[HexPlane, HexPlane]:
    """(the DiT's x0 prediction, x_t / sqrt(abar)) at timestep t, noise seeded by t."""
    torch.manual_seed(t)
    noise = torch.randn_like(x0) * model.pixel_mask
    steps = torch.full((len(x0),), t)
    xt = scheduler.add_noise(x0, noise, steps)
    abar = scheduler.alphas_cumprod[t]
    predicted = (abar.sqrt() * xt - (1 - abar).sqrt() * model(xt, steps, cond)) * model.pixel_mask
    return model.unroll(predicted), model.unroll(xt / abar.sqrt() * model.pixel_mask)


print("1. plane blame")
for t in (50, 100, 200):
    predicted, identity = x0_prediction(t)
    print(f"t={t}: identity {score(identity)}, whole prediction {score(predicted)}")
    for p in PLANES:
        mse = float((getattr(predicted, p) - planes[p]).square().mean())
        noised = float((getattr(identity, p) - planes[p]).square().mean())
        print(f"  {p} alone from the DiT: {score(with_planes(**{p: getattr(predicted, p)}))}, "
              f"squared error {mse:.4f} (noised input {noised:.4f})", flush=True)  # fmt: skip

print("2. the xy plane's detail")
xy = planes["xy"]
mean = xy.mean(0, keepdim=True)
deviation = xy - mean
for k in (2, 4):
    inside = float((deviation - lowpass(deviation, k)).square().sum() / deviation.square().sum())
    print(
        f"xy averaged over {k}x{k} blocks: {score(with_planes(xy=lowpass(xy, k)))}, share inside blocks {inside:.3f}"
    )
for a in (0.9, 0.7, 0.5):
    print(f"xy shrunk to the windows' mean x{a}: {score(with_planes(xy=mean + a * deviation))}")
for s in (0.1, 0.2, 0.3):
    torch.manual_seed(1)
    print(f"xy + noise {s}: {score(with_planes(xy=xy + s * torch.randn_like(xy)))}")
print(f"xy replaced by the windows' mean: {score(with_planes(xy=mean.expand_as(xy)))}", flush=True)

print("3. coarse / inside-block energy of the xy plane")
print("encodings, deviation from their mean:", split(deviation))
spec = SampleSpec("dpmpp", 20, seed=0, batch=n)
drawn = model.unroll(sample_maps(dit, n, spec, torch.Generator().manual_seed(0), "cpu", cond))
print("draws, deviation from the encodings' mean:", split(drawn.xy - mean))
for t in (50, 100, 200, 400):
    predicted, _ = x0_prediction(t)
    print(f"x0 error at t={t}:", split(predicted.xy - xy), flush=True)
