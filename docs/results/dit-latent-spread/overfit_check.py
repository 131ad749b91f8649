"""Probe (issue 40): can the DiT learn a few scenes by heart? A DiT trained on the windows of 4 scenes draws N
windows (DPM-Solver++ 20 from seed 0, given the command and trajectory of N of its training windows); each is
matched to the training window (decoded encoding) it overlaps most by mIoU. A DiT that has learned its scenes
draws windows close to one of them; windows of a scene it never saw (its validation scene) give the level of
an unrelated match. Frames 0 of the first 4 draws and of their matches as a PNG.

    python overfit_check.py DIT_RUN VAE_RUN OUT_STEM [N]
"""

import json
import sys

import numpy as np
import torch
from PIL import Image
from probes import decode, miou

from dynamiccity.dit.conditions import Conditions
from dynamiccity.generation.sampling import SampleSpec, sample_maps
from dynamiccity.runs.latents import LatentSet
from dynamiccity.runs.loading import load_dit, load_vae
from dynamiccity.viz import render_3d, tile_images

torch.set_grad_enabled(False)
dit, vae = load_dit(sys.argv[1]), load_vae(sys.argv[2])
stem, n = sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 16


def collated(split: str) -> dict:
    windows = LatentSet(dit.config.latents, splits=(split,))
    items = [windows[i] for i in range(len(windows))]
    return {k: torch.stack([r[k] for r in items]) for k in items[0]}


def matches(windows: np.ndarray, reference: np.ndarray) -> list[tuple[int, float]]:
    return [max(((j, miou(w, r)) for j, r in enumerate(reference)), key=lambda m: m[1]) for w in windows]


train, val = collated("train"), collated("val")
known = decode(dit, vae, LatentSet.hexplane(train))
pick = np.linspace(0, len(known) - 1, n).round().astype(int)
cond = Conditions(command=train["command"][pick], trajectory=train["trajectory"][pick])
spec = SampleSpec("dpmpp", 20, seed=0, batch=n)
drawn = decode(
    dit, vae, dit.model.unroll(sample_maps(dit, n, spec, torch.Generator().manual_seed(0), "cpu", cond))
)
found = matches(drawn, known)
unseen = matches(decode(dit, vae, LatentSet.hexplane(val)), known)
result = {
    "dit": sys.argv[1],
    "step": dit.step,
    "training_windows": len(known),
    "drawn": n,
    "drawn_best_match_miou": [round(m, 3) for _, m in found],
    "unseen_scene_best_match_miou": [round(m, 3) for _, m in unseen],
}
print(json.dumps(result))
with open(f"{stem}.json", "w") as f:
    json.dump(result, f, indent=1)
images = [render_3d(w[0]) for w in drawn[:4]] + [render_3d(known[j][0]) for j, _ in found[:4]]
captions = [f"drawn {i}" for i in range(4)] + [f"its match, mIoU {m:.2f}" for _, m in found[:4]]
Image.fromarray(np.asarray(tile_images(images, 4, captions))).save(f"{stem}.png")
