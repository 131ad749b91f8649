"""Probe: decoder fine-tuned on refined latents (semi-amortised), encoder frozen. Does it learn to draw bicycles?"""
import json
import random
import sys
import time

import numpy as np
import torch
from safetensors.torch import save_file

from dynamiccity.runs.loading import load_vae
from dynamiccity.vae.losses import class_weights, vae_loss
from dynamiccity.vae.model import ENCODER_PARTS
from dynamiccity.vae.refine import Refinement, refine_latent

torch.manual_seed(0); random.seed(0)
K, minutes, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
vae = load_vae("synthtown").model
for p in ENCODER_PARTS: getattr(vae, p).requires_grad_(False)
d = json.load(open("data/synthtown64/dataset.json"))
wins, bikes = [], []
for s in d["scenes"]:
    if s["split"] != "train": continue
    l = np.load(f"data/synthtown64/{s['name']}/labels.npy")
    for t0 in (0, 4, 8):
        w = l[t0:t0+8]
        (bikes if (w == 11).any() else wins).append(w)
counts = np.zeros(12); 
for w in wins[::5] + bikes[::5]: counts += np.bincount(w.ravel(), minlength=12)
weights = class_weights(counts, 0.5)
print(len(wins), len(bikes), weights.numpy().round(1), flush=True)
params = [p for p in vae.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
t_start = time.time(); step = 0
while time.time() - t_start < minutes * 60:
    w = random.choice(bikes if random.random() < 0.5 else wins)
    lab = torch.from_numpy(w.astype(np.int64))[None]
    z = refine_latent(vae, lab, spec=Refinement(steps=K))
    vae.train()
    post = vae.posterior(lab)
    lo_r = vae.decode(z); lo_e = vae.decode(post.sample())
    zero = torch.zeros(())
    lr_ = vae_loss(lo_r, lab, zero, weights, None, 1.0, 0.0, 4096)
    le_ = vae_loss(lo_e, lab, zero, weights, None, 1.0, 0.0, 4096)
    loss = lr_.total + le_.total
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step(); vae.eval()
    step += 1
    if step % 5 == 0:
        bp = (lo_r.argmax(-1) == 11).sum().item()
        print(f"step {step} {time.time()-t_start:.0f}s refined {lr_.total.item():.3f} enc {le_.total.item():.3f} bike-preds(refined) {bp} bike-voxels {(lab==11).sum().item()}", flush=True)
save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, out)
print("saved", out, step)
