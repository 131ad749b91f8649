"""Probe (issue 40): what a DiT predicts of clean encoded windows from their noised versions, by timestep: the
spread of its x0 prediction against the truth's (ratio), their correlation and squared error, on 32 encoded
windows of its latent folder (the command and trajectory given, no guidance).

    python x0_prediction.py DIT_RUN
"""

import sys

import torch

from dynamiccity.diffusion.process import Diffusion
from dynamiccity.dit.conditions import Conditions
from dynamiccity.runs.latents import LatentSet
from dynamiccity.runs.loading import load_dit

torch.set_grad_enabled(False)
torch.manual_seed(0)
dit = load_dit(sys.argv[1])
model = dit.model
encoded = LatentSet(dit.config.latents)
items = [encoded[i] for i in range(3, len(encoded), len(encoded) // 32)][:32]
batch = {k: torch.stack([r[k] for r in items]) for k in items[0]}
x0 = model.rollout.roll(LatentSet.hexplane(batch)) * model.pixel_mask
scheduler = Diffusion(dit.config.diffusion).train_scheduler
cond = Conditions(command=batch["command"], trajectory=batch["trajectory"])
real = model.pixel_mask.bool().expand_as(x0)
for t in (50, 200, 400, 600, 800, 950):
    noise = torch.randn_like(x0) * model.pixel_mask
    steps = torch.full((len(x0),), t)
    xt = scheduler.add_noise(x0, noise, steps)
    v = model(xt, steps, cond)  # v-prediction: x0 = sqrt(abar) x_t - sqrt(1 - abar) v
    abar = scheduler.alphas_cumprod[t]
    predicted = abar.sqrt() * xt - (1 - abar).sqrt() * v
    a, b = x0[real], predicted[real]
    print(
        f"t={t}: truth std {a.std():.3f}, predicted std {b.std():.3f} (ratio {b.std() / a.std():.3f}), "
        f"correlation {torch.corrcoef(torch.stack([a, b]))[0, 1]:.3f}, squared error {(a - b).square().mean():.3f}"
    )
