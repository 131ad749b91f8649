"""Probe: decoder co-trained with a bank of per-window latents (auto-decoder), encoder frozen; plus the
encoder-latent term so the DiT's latents still decode. Does the decoder learn to draw bicycles?"""
import json
import random
import sys
import time

import numpy as np
import torch
from safetensors.torch import save_file

from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.runs.loading import load_vae
from dynamiccity.vae.losses import class_weights, vae_loss
from dynamiccity.vae.model import ENCODER_PARTS

torch.manual_seed(0); random.seed(0)
nbank, inner, minutes, lr_dec, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
vae = load_vae("synthtown").model.eval()
for p in ENCODER_PARTS: getattr(vae, p).requires_grad_(False)
d = json.load(open("data/synthtown64/dataset.json"))
bikes, other = [], []
for s in d["scenes"]:
    if s["split"] != "train": continue
    l = np.load(f"data/synthtown64/{s['name']}/labels.npy")
    for t0 in (0, 4, 8):
        w = l[t0:t0+8]
        (bikes if (w == 11).any() else other).append(w)
random.shuffle(bikes); random.shuffle(other)
wins = bikes[:nbank] + other[:nbank]
counts = sum(np.bincount(w.ravel(), minlength=12) for w in wins)
weights = class_weights(counts, 1/3)
labs = [torch.from_numpy(w.astype(np.int64))[None] for w in wins]
bank = [[p.detach().clone().requires_grad_(True) for p in vae.encode(l).planes()] for l in labs]
lat_opt = torch.optim.Adam([p for z in bank for p in z], lr=0.2)
dec = [p for p in vae.parameters() if p.requires_grad]
dec_opt = torch.optim.AdamW(dec, lr=lr_dec, weight_decay=0.0)
zero = torch.zeros(()); t0 = time.time(); step = 0
def decode(z): return vae.decode(HexPlane.from_planes(dict(zip(PLANES, z))))
while time.time() - t0 < minutes * 60:
    i = random.randrange(len(wins)); lab, z = labs[i], bank[i]
    for _ in range(inner):  # latent-only steps
        t = vae_loss(decode(z), lab, zero, weights, None, 1.0, 0.0, 4096)
        for p, g in zip(z, torch.autograd.grad(t.total, z)): p.grad = g
        lat_opt.step(); lat_opt.zero_grad(set_to_none=True)
    lo = decode(z)
    tb = vae_loss(lo, lab, zero, weights, None, 1.0, 0.0, 4096)
    vae.train(); te = vae_loss(vae.decode(vae.posterior(lab).sample()), lab, zero, weights, None, 1.0, 0.0, 4096); vae.eval()
    dec_opt.zero_grad(); (tb.total + te.total).backward()
    for p in z: p.grad = None
    torch.nn.utils.clip_grad_norm_(dec, 1.0); dec_opt.step(); step += 1
    if step % 10 == 0:
        pred = lo.argmax(-1)
        print(f"step {step} {time.time()-t0:.0f}s bank {tb.total.item():.3f} enc {te.total.item():.3f} bike voxels {(lab==11).sum().item()} bike preds {(pred==11).sum().item()} hits {((pred==11)&(lab==11)).sum().item()}", flush=True)
save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, out)
print("saved", out, step, flush=True)
