"""The ceiling of eval-vae for a centred VAE whose world window is widened by a margin: every window of a
dataset (8 frames, side by side) laid on the recorded grid widened by MARGIN voxels a side, as seen from its
middle frame, and shown back to the ego's grid, as eval-vae shows a reconstruction; a perfect VAE scores this.
Also how far (voxels) the frames see beyond the unwidened window, largest side, max and median.
    python ceiling.py DATA MARGIN [MARGIN ...]"""

import sys

import numpy as np
import torch

from dynamiccity.data import open_dataset
from dynamiccity.data.egoframe import anchored, beyond, to_ego, to_world, world_anchor
from dynamiccity.metrics import ConfusionMatrix

windows = open_dataset(sys.argv[1], "synthtown", frames=8, stride=8)
view, anchor = windows.grid, world_anchor("centred", 8)
for margin in (int(m) for m in sys.argv[2:]):
    wide, scores, reach = windows.grid.widened(margin), ConfusionMatrix(12), []
    for i in range(len(windows)):
        w = windows[i]
        path = anchored(w.trajectory, anchor)
        world = to_world(w.labels, path, view.extent, fill_back=True, world=(wide.shape, wide.extent))
        back, _ = to_ego(world, path, wide.extent, (view.shape, view.extent))
        scores.update(
            torch.from_numpy(back).long(), torch.from_numpy(w.labels).long(), torch.from_numpy(w.valid)
        )
        reach.append(max(beyond(view.shape, path, view.extent).values()))
    print(
        f"margin {margin} (grid {wide.shape}), {len(windows)} windows: ceiling mIoU {scores.compute()['miou']:.4f}; "
        f"the frames see up to {max(reach)} voxels beyond the unwidened window (median {np.median(reach):.1f})"
    )
