import json
import time

import numpy as np
import torch

from dynamiccity.runs.loading import load_vae
from dynamiccity.vae.refine import Refinement, refine_latent

torch.manual_seed(0)
vae = load_vae("synthtown").model
out = vae.decoder if hasattr(vae,'decoder') else None
print(type(vae).__name__, [n for n,_ in vae.named_children()])
head = [m for n,m in vae.named_modules() if n.endswith('head.out')][0]
print('head bias', head.bias.data if hasattr(head,'bias') else [p.shape for p in head.parameters()])
for p in head.parameters(): print('weight norms per class', p.data.reshape(12,-1).norm(dim=1) if p.numel()>12 else p.data)
d=json.load(open('data/synthtown-fresh5051/dataset.json'))
for s in d['scenes']:
    l=np.load(f"data/synthtown-fresh5051/{s['name']}/labels.npy")
    nb=(l==11).sum()
    if nb==0: continue
    lab=torch.from_numpy(l[:8].astype(np.int64))[None]
    t0=time.time()
    z=refine_latent(vae, lab, spec=Refinement(steps=60))
    with torch.no_grad(): logits=vae.decode(z)
    logits=logits.reshape(1,8,12,64,64,8) if logits.shape[1]!=8 else logits
    print(s['name'], 'bike voxels', nb, 'logits shape', tuple(logits.shape), time.time()-t0)
    break
m = torch.from_numpy(l[:8]==11)[None]
lg = logits[m]  # (N,12)
print('bike voxels in window', m.sum().item())
print('pred classes at bike voxels', torch.bincount(lg.argmax(-1), minlength=12).tolist())
print('bike logit - max other, quantiles', torch.quantile(lg[:,11]-torch.cat([lg[:,:11]],1).max(-1).values, torch.tensor([0.,.5,1.])).tolist())
print('global bike argmax count', (logits.argmax(-1)==11).sum().item())
# can the decoder draw bikes at all? strongly weighted CE on bike voxels
from dynamiccity.hexplane import PLANES, HexPlane

planes=[p.detach().clone().requires_grad_(True) for p in z.planes()]
opt=torch.optim.Adam(planes, lr=0.2)
lab8=lab
for i in range(40):
    cur=HexPlane.from_planes(dict(zip(PLANES,planes)))
    lo=vae.decode(cur)
    ce=torch.nn.functional.cross_entropy(lo.reshape(-1,12), lab8.reshape(-1), reduction='none')
    w=torch.where(lab8.reshape(-1)==11, 1000.0, 1.0)
    loss=(ce*w).mean()
    opt.zero_grad(); loss.backward(); opt.step()
lg=lo.detach()[m]
print('after bike-weighted: pred at bike voxels', torch.bincount(lg.argmax(-1), minlength=12).tolist(), 'global bike preds', (lo.argmax(-1)==11).sum().item())
