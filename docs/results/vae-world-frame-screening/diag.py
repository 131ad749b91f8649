"""Probe (issue 39): the shipped VAE's one-pass mIoU by command, ego against world coordinates.

    python diag.py DATA   (a SynthTown dataset of 16-frame scenes)
"""

import collections
import sys

import numpy as np
import torch

from dynamiccity.data import Command
from dynamiccity.data.egoframe import to_world
from dynamiccity.metrics.reconstruction import occupancy_iou
from dynamiccity.pipeline import DataSpec, load_vae
from dynamiccity.runs.datasets import open_windows

torch.set_num_threads(2)
vae = load_vae("synthtown").model
data = open_windows(DataSpec(sys.argv[1], "synthtown"), 8, "all", default_stride=8)
ext = data.grid.extent if hasattr(data.grid,'extent') else None
print(data.grid)
res = collections.defaultdict(list)
for i in range(0, len(data)):
    w = data[i]
    for name in ("ego","world"):
        lab = w.labels if name=="ego" else to_world(w.labels, w.trajectory, tuple(data.grid.extent))
        x = torch.from_numpy(lab.astype(np.int64))[None]
        with torch.no_grad():
            pred = vae.decode(vae.encode(x)).argmax(-1)
        m = occupancy_iou(pred[0], x[0], 12)
        res[(Command(w.command).name, name)].append(m["miou"])
for k,v in sorted(res.items()): print(k, len(v), round(float(np.mean(v)),3))
