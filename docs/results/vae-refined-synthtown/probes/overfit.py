import sys

import numpy as np
import torch

from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.runs.loading import load_vae
from dynamiccity.vae.losses import vae_loss
from dynamiccity.vae.refine import window_weights

vae = load_vae("synthtown").model
l=np.load("data/synthtown-fresh5051/scene_0001/labels.npy")[:8]
lab=torch.from_numpy(l.astype(np.int64))[None]; m=lab==11
valid=torch.ones_like(lab,dtype=torch.bool); w=window_weights(lab,valid,12)
print('window weights', w.numpy().round(1))
planes=[p.detach().clone().requires_grad_(True) for p in vae.encode(lab).planes()]
dec=[p for n,p in vae.named_parameters() if n.startswith(('latent_decoder','voxel_decoder'))]
opt=torch.optim.Adam([{'params':planes,'lr':0.2},{'params':dec,'lr':float(sys.argv[1])}])
for i in range(80):
    lo=vae.decode(HexPlane.from_planes(dict(zip(PLANES,planes))))
    t=vae_loss(lo,lab,torch.zeros(()),w,valid,1.0,0.0,4096)
    opt.zero_grad(); t.total.backward(); opt.step()
    if i%20==19:
        pred=lo.argmax(-1); 
        print(i, 'at bike voxels', torch.bincount(pred[m], minlength=12).tolist(), 'bike preds', (pred==11).sum().item(), 'ped IoU', ((pred==4)&(lab==4)).sum().item()/((pred==4)|(lab==4)).sum().item(), flush=True)
