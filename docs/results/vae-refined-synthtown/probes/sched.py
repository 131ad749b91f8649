"""Probe: refinement lr schedule. Pooled per-class IoU over windows of seed 5051."""
import sys
import time

import numpy as np
import torch

from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.runs.loading import load_vae
from dynamiccity.vae.losses import vae_loss
from dynamiccity.vae.refine import window_weights

vae = load_vae("synthtown").model
sched, lr, steps = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
scenes = sys.argv[4].split(",")
inter = np.zeros(12); union = np.zeros(12); t0 = time.time()
for sc in scenes:
    l = np.load(f"data/synthtown-fresh5051/scene_{int(sc):04d}/labels.npy")[:8]
    lab = torch.from_numpy(l.astype(np.int64))[None]
    valid = torch.ones_like(lab, dtype=torch.bool)
    w = window_weights(lab, valid, 12)
    planes = [p.detach().clone().requires_grad_(True) for p in vae.encode(lab).planes()]
    opt = torch.optim.Adam(planes, lr=lr)
    for i in range(steps):
        if sched == "cos":
            for g in opt.param_groups: g["lr"] = lr * 0.5 * (1 + np.cos(np.pi * i / steps))
        elif sched == "cos10":
            for g in opt.param_groups: g["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * i / steps)))
        cur = HexPlane.from_planes(dict(zip(PLANES, planes)))
        terms = vae_loss(vae.decode(cur), lab, torch.zeros(()), w, valid, 1.0, 0.0, 4096)
        grads = torch.autograd.grad(terms.total, planes)
        for p, g in zip(planes, grads): p.grad = g
        opt.step()
    with torch.no_grad():
        pred = vae.decode(HexPlane.from_planes(dict(zip(PLANES, planes)))).argmax(-1)
    for c in range(1, 12):
        a, b = pred == c, lab == c
        inter[c] += (a & b).sum().item(); union[c] += (a | b).sum().item()
present = [c for c in range(1, 12) if union[c] > 0 and (inter[c] > 0 or True)]
ious = inter[1:] / np.maximum(union[1:], 1)
print(sys.argv[1:], "mIoU(present)", round(float(np.mean([inter[c]/union[c] for c in present])), 4), "per-class", ious.round(3).tolist(), f"{time.time()-t0:.0f}s", flush=True)
