"""Probe (issue 39): what a perfect world-coordinate VAE could score in ego coordinates. Each window's labels go
ego -> world (its first frame's ego) -> ego along its own path, nearest neighbour, and are scored against the
window; what the ego looks into beyond the first frame's grid comes back free.
    python roundtrip.py DATA [every]"""
import sys

import numpy as np
import torch

from dynamiccity.data import open_dataset
from dynamiccity.data.egoframe import to_ego, to_world
from dynamiccity.metrics.reconstruction import ConfusionMatrix

data = open_dataset(sys.argv[1], "synthtown", frames=8, stride=8)
every = int(sys.argv[2]) if len(sys.argv) > 2 else 1
extent, meter, unseen = tuple(data.grid.extent), ConfusionMatrix(12), []
for i in range(0, len(data), every):
    w = data[i]
    back, hidden = to_ego(to_world(w.labels, w.trajectory, extent), w.trajectory, extent)
    unseen.append(hidden.mean())
    meter.update(torch.from_numpy(back.astype(np.int64)), torch.from_numpy(w.labels.astype(np.int64)))
print(f"{len(unseen)} windows: unseen share {np.mean(unseen):.4f}, mIoU {meter.compute()['miou']:.4f}")
