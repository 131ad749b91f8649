"""Probe (issues 39/40): how much latent error the decoder forgives. N training windows of a DiT's latent folder
are decoded as they are (the reference), then with Gaussian noise of relative size s added in the DiT's
normalised units (s = 0.05 ... 0.5; the normalised latents have std ~1), and from the DiT's one-step x0
prediction at timestep t. Each is scored by mIoU against the reference decode, beside the squared error
of the latent, so a DiT's per-element error can be read as a decoded mIoU.

    python decoder_sensitivity.py DIT_RUN VAE_RUN [N]
"""

import json
import sys

import numpy as np
import torch
from probes import decode, miou

from dynamiccity.diffusion.process import Diffusion
from dynamiccity.dit.conditions import Conditions
from dynamiccity.hexplane import HexPlane
from dynamiccity.runs.latents import LatentSet
from dynamiccity.runs.loading import load_dit, load_vae

torch.set_grad_enabled(False)
torch.manual_seed(0)
dit, vae = load_dit(sys.argv[1]), load_vae(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 16
model = dit.model


def scores(z: HexPlane, reference: np.ndarray) -> float:
    return round(float(np.mean([miou(a, b) for a, b in zip(decode(dit, vae, z), reference)])), 3)


encoded = LatentSet(dit.config.latents, splits=("train",))
items = [encoded[i] for i in np.linspace(0, len(encoded) - 1, n).round().astype(int)]
batch = {k: torch.stack([r[k] for r in items]) for k in items[0]}
clean = LatentSet.hexplane(batch)
reference = decode(dit, vae, clean)
x0 = model.rollout.roll(clean) * model.pixel_mask
real = model.pixel_mask.bool().expand_as(x0)
result = {
    "dit": sys.argv[1],
    "windows": n,
    "latent_std": round(float(x0[real].std()), 3),
    "noise": {},
    "x0": {},
}
for s in (0.05, 0.1, 0.2, 0.3, 0.5):
    noisy = model.unroll(x0 + s * torch.randn_like(x0) * model.pixel_mask)
    result["noise"][s] = {"mse": round(s * s, 4), "miou": scores(noisy, reference)}
    print("noise", s, result["noise"][s], flush=True)
scheduler = Diffusion(dit.config.diffusion).train_scheduler
cond = Conditions(command=batch["command"], trajectory=batch["trajectory"])
for t in (50, 100, 200, 400):
    noise = torch.randn_like(x0) * model.pixel_mask
    steps = torch.full((len(x0),), t)
    xt = scheduler.add_noise(x0, noise, steps)
    v = model(xt, steps, cond)
    abar = scheduler.alphas_cumprod[t]
    predicted = (abar.sqrt() * xt - (1 - abar).sqrt() * v) * model.pixel_mask
    mse = float((predicted - x0)[real].square().mean())
    result["x0"][t] = {"mse": round(mse, 4), "miou": scores(model.unroll(predicted), reference)}
    print("x0", t, result["x0"][t], flush=True)
print(json.dumps(result))
