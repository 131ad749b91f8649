"""Probe (issue 40): is a DiT learning its training windows by heart? Its one-step x0 prediction's squared error
(normalised units) at t = 100 ... 900, on up to 15 windows of its training split and of its held-out split,
noise seeded by t. A network that memorises errs less on the windows it trained on, most at large t, where only
knowing the window can tell it.

    python memorisation.py DIT_RUN
"""

import sys

import torch

from dynamiccity.diffusion.process import Diffusion
from dynamiccity.dit.conditions import Conditions
from dynamiccity.runs.latents import LatentSet
from dynamiccity.runs.loading import load_dit

torch.set_grad_enabled(False)
dit = load_dit(sys.argv[1])
model = dit.model
scheduler = Diffusion(dit.config.diffusion).train_scheduler
print("step", dit.step)
for split in ("train", "val"):
    windows = LatentSet(dit.config.latents, splits=(split,))
    items = [windows[i] for i in range(min(len(windows), 15))]
    batch = {k: torch.stack([r[k] for r in items]) for k in items[0]}
    x0 = model.rollout.roll(LatentSet.hexplane(batch)) * model.pixel_mask
    real = model.pixel_mask.bool().expand_as(x0)
    cond = Conditions(command=batch["command"], trajectory=batch["trajectory"])
    errors = []
    for t in (100, 300, 500, 700, 900):
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(t)) * model.pixel_mask
        steps = torch.full((len(x0),), t)
        xt = scheduler.add_noise(x0, noise, steps)
        abar = scheduler.alphas_cumprod[t]
        predicted = abar.sqrt() * xt - (1 - abar).sqrt() * model(xt, steps, cond)
        errors.append(f"t{t}:{float((predicted - x0)[real].square().mean()):.3f}")
    print(split, f"{len(items)} of {len(windows)} windows", " ".join(errors), flush=True)
