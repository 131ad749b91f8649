import sys

import numpy as np
import torch

from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.runs.loading import load_vae

vae = load_vae(sys.argv[1], "last").model if sys.argv[1] != "shipped" else load_vae("synthtown").model
l=np.load("data/synthtown-fresh5051/scene_0001/labels.npy")[:8]
lab=torch.from_numpy(l.astype(np.int64))[None]; m=lab==11
planes=[p.detach().clone().requires_grad_(True) for p in vae.encode(lab).planes()]
opt=torch.optim.Adam(planes, lr=0.2)
for i in range(60):
    lo=vae.decode(HexPlane.from_planes(dict(zip(PLANES,planes))))
    ce=torch.nn.functional.cross_entropy(lo.reshape(-1,12), lab.reshape(-1), reduction='none')
    loss=(ce*torch.where(lab.reshape(-1)==11, 1000.0, 1.0)).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    if i%20==19:
        pred=lo.argmax(-1); print(i, 'at bike voxels', torch.bincount(pred[m], minlength=12).tolist(), 'bike preds', (pred==11).sum().item(), flush=True)
