"""Probe (issue 39, "latents a DiT can learn"): what a DiT would face in a VAE's latent space. Every window of a
set (stride 1) is encoded in the VAE's coordinates (posterior mean), each channel standardised as a DiT's
latent set is (`LatentManifest.normalise`); reports the latents' spread, how far a window's latent lies from
the next window's (one frame later) against a random other window's, and how rough the planes are (mean
squared difference of neighbouring plane cells over the planes' mean square). With REFINE_STEPS and
REFINE_LR, each latent is the encoding refined by that many steps on its window (`vae.refine`), and the
result also says how far refinement moved it (mean distance to the one-pass latent over the one-pass
latent's norm, standardised as above).
    python latent_geometry.py RUN DATA COORDINATES OUT.json [REFINE_STEPS REFINE_LR]"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from dynamiccity.data import open_dataset
from dynamiccity.runs.loading import load_vae
from dynamiccity.vae.refine import Refinement, refine_latent

run, data, coordinates, out = sys.argv[1:5]
steps, lr = (int(sys.argv[5]), float(sys.argv[6])) if len(sys.argv) > 6 else (0, 0.0)
vae = load_vae(run, device="cpu")
model = vae.model.eval()
windows = open_dataset(data, "synthtown", frames=model.cfg.frames, stride=1, coordinates=coordinates)
planes, passes, keys = [], [], []
for i in range(len(windows)):
    w = windows[i]
    labels, valid = torch.from_numpy(w.labels)[None], torch.from_numpy(w.valid)[None]
    with torch.no_grad():
        latent = model.encode(labels)
    passes.append({name: p[0].numpy() for name, p in latent.as_dict().items()})
    if steps:
        latent = refine_latent(model, labels, latent, valid, Refinement(steps=steps, lr=lr))
    planes.append({name: p[0].numpy() for name, p in latent.as_dict().items()})
    keys.append((w.scene, w.start))
names = list(planes[0])
flat = np.stack(
    [np.concatenate([p[n].reshape(len(p[n]), -1) for n in names], axis=1) for p in planes]
)  # (W, C, D)
mean, std = flat.mean(axis=(0, 2), keepdims=True), flat.std(axis=(0, 2), keepdims=True)
z = ((flat - mean) / std).reshape(len(flat), -1)
one_pass = np.stack([np.concatenate([p[n].reshape(len(p[n]), -1) for n in names], axis=1) for p in passes])
z_pass = ((one_pass - mean) / std).reshape(len(flat), -1)
moved = float(np.mean(np.linalg.norm(z - z_pass, axis=1) / np.linalg.norm(z_pass, axis=1)))
index = {k: i for i, k in enumerate(keys)}
nxt = [(i, index[(s, t + 1)]) for i, (s, t) in enumerate(keys) if (s, t + 1) in index]
rng = np.random.default_rng(0)
rand = [
    (i, int(j))
    for i, j in zip(rng.integers(len(z), size=2000), rng.integers(len(z), size=2000), strict=True)
    if i != j
]
dist = lambda pairs: float(np.mean([np.linalg.norm(z[i] - z[j]) for i, j in pairs]))  # noqa: E731
rough = {}
for n in names:
    p = np.stack([q[n] for q in planes])  # (W, C, A, B)
    p = (p - mean.reshape(1, -1, 1, 1)) / std.reshape(1, -1, 1, 1)
    diffs = [np.mean(np.diff(p, axis=a) ** 2) for a in (2, 3) if p.shape[a] > 1]
    rough[n] = float(np.mean(diffs) / np.mean(p**2))
result = {
    "run": run,
    "data": data,
    "coordinates": coordinates,
    "refine": {"steps": steps, "lr": lr},
    "refinement_moved": moved,
    "windows": len(z),
    "dims": int(z.shape[1]),
    "channel_std": std.ravel().round(4).tolist(),
    "next_window_distance": dist(nxt),
    "random_pair_distance": dist(rand),
    "next_over_random": dist(nxt) / dist(rand),
    "roughness": rough,
}
Path(out).write_text(json.dumps(result, indent=1) + "\n")
print({k: v for k, v in result.items() if k not in ("channel_std", "roughness")}, rough)
