"""Probe (issue 40): how far what a DiT draws spreads, against the encodings it learned, per plane in the DiT's
normalised units: the standard deviation over every cell ("std") and over windows at each cell, averaged
("across": how much windows differ from one another). N samples (SAMPLER STEPS, seed 0; the command and
trajectory of N encoded windows spread over the set when COND=1, none otherwise; guidance scale CFG)
against 64 encoded windows of the DiT's latent folder.

    [WHICH=best|last] [EMA=1|0] [COND=0|1] [CFG=1] python spread.py DIT_RUN [N] [SAMPLER] [STEPS]
"""

import os
import sys

import torch

from dynamiccity.dit.conditions import Conditions
from dynamiccity.generation.sampling import SampleSpec, sample_maps
from dynamiccity.hexplane import PLANES
from dynamiccity.runs.latents import LatentSet
from dynamiccity.runs.loading import load_dit

torch.set_grad_enabled(False)
dit = load_dit(sys.argv[1], which=os.environ.get("WHICH", "best"), ema=os.environ.get("EMA", "1") == "1")
n = int(sys.argv[2]) if len(sys.argv) > 2 else 16
sampler, steps = (sys.argv[3], int(sys.argv[4])) if len(sys.argv) > 4 else ("dpmpp", 20)
encoded = LatentSet(dit.config.latents)
items = [encoded[i] for i in range(0, len(encoded), len(encoded) // 64)][:64]
batch = {k: torch.stack([r[k] for r in items]) for k in items[0]}
real = LatentSet.hexplane(batch)
cond = None
if os.environ.get("COND", "0") == "1":
    cond = Conditions(command=batch["command"][:n], trajectory=batch["trajectory"][:n])
spec = SampleSpec(sampler, steps, seed=0, batch=n, cfg_scale=float(os.environ.get("CFG", "1")))
drawn = dit.model.unroll(sample_maps(dit, n, spec, torch.Generator().manual_seed(0), "cpu", cond))
print(
    f"{sys.argv[1]} step {dit.step} ({dit.checkpoint.name}), {n} samples, {sampler}-{steps}, cond {cond is not None}"
)
for p in PLANES:
    r, g = getattr(real, p), getattr(drawn, p)
    print(
        f"{p}: encoded std {r.std():.3f} across {r.std(0).mean():.3f} | "
        f"drawn std {g.std():.3f} across {g.std(0).mean():.3f} | ratio {g.std() / r.std():.2f}"
    )
