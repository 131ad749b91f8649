"""Probe (issue 40): can the tiny DiT learn ONE window by heart? A fresh network of a run's config (conditions
dropped: null for every sample) is trained on one encoded window only (batch 8 of it, fresh noise and timesteps
each step, AdamW at LR, STEPS steps), then draws 4 windows (DPM-Solver++ 20); each draw's mIoU against the
window's decoded encoding. A network that fits anything fits this.

    python one_window.py DIT_RUN VAE_RUN [STEPS] [LR] [WINDOW]
"""

import dataclasses
import sys
import time

import numpy as np
import torch

from dynamiccity.diffusion.process import Diffusion
from dynamiccity.dit.model import HexPlaneDiT
from dynamiccity.generation.sampling import SampleSpec, sample_maps
from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.runs.latents import LatentSet
from dynamiccity.runs.loading import load_dit, load_vae
from dynamiccity.train.loop import adamw

torch.manual_seed(0)
run, vae = load_dit(sys.argv[1]), load_vae(sys.argv[2])
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 500
lr = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-3
index = int(sys.argv[5]) if len(sys.argv) > 5 else 0
item = LatentSet(run.config.latents)[index]
model = HexPlaneDiT(run.config.model)
x0 = model.rollout.roll(HexPlane.from_planes({p: item[p][None] for p in PLANES})) * model.pixel_mask
diffusion = Diffusion(run.config.diffusion)
opt = adamw(model.parameters(), lr)
start = time.perf_counter()
for step in range(steps):
    loss = diffusion.loss(lambda x, t: model(x, t, None), x0.expand(8, -1, -1, -1), model.pixel_mask)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if step % 100 == 0 or step == steps - 1:
        print(f"step {step}: loss {loss.item():.4f} ({time.perf_counter() - start:.0f} s)", flush=True)
model.eval()
run = dataclasses.replace(run, model=model)


def decode(grid: torch.Tensor) -> np.ndarray:
    raw = run.manifest.denormalise(model.unroll(grid))
    return vae.model.decode(raw).argmax(-1).numpy()


def miou(a: np.ndarray, b: np.ndarray) -> float:
    ious = [
        ((a == c) & (b == c)).sum() / ((a == c) | (b == c)).sum()
        for c in range(1, 12)
        if ((a == c) | (b == c)).any()
    ]
    return float(np.mean(ious))


with torch.no_grad():
    truth = decode(x0)[0]
    drawn = decode(
        sample_maps(
            run, 4, SampleSpec("dpmpp", 20, seed=0, batch=4), torch.Generator().manual_seed(0), "cpu", None
        )
    )
print("draws' mIoU against the window:", [round(miou(d, truth), 3) for d in drawn])
