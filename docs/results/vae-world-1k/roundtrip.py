"""The ceiling of eval-vae for a VAE of world coordinates: every window of a dataset (8 frames, side by side)
taken to world coordinates as a VAE of `coordinates` sees it and shown back to the ego's, as eval-vae shows a
reconstruction, scored against the window as recorded; a perfect world reconstruction scores this. Also the
score on the voxels the world window holds (the rest: what the ego looks at beyond it, shown free).
    python roundtrip.py DATA"""

import sys

import torch

from dynamiccity.data import open_dataset
from dynamiccity.data.egoframe import anchored, to_ego, to_world, world_anchor
from dynamiccity.metrics import ConfusionMatrix

windows = open_dataset(sys.argv[1], "synthtown", frames=8, stride=8)
for coordinates in ("world", "centred"):
    anchor = world_anchor(coordinates, 8)
    every, held = ConfusionMatrix(12), ConfusionMatrix(12)
    for i in range(len(windows)):
        w = windows[i]
        path = anchored(w.trajectory, anchor)
        back, unseen = to_ego(
            to_world(w.labels, path, windows.grid.extent, fill_back=True), path, windows.grid.extent
        )
        target, valid = torch.from_numpy(w.labels).long(), torch.from_numpy(w.valid)
        every.update(torch.from_numpy(back).long(), target, valid)
        held.update(torch.from_numpy(back).long(), target, valid & ~torch.from_numpy(unseen))
    print(
        f"{coordinates} (anchor frame {anchor}), {len(windows)} windows: mIoU {every.compute()['miou']:.4f}, "
        f"on the voxels the world window holds {held.compute()['miou']:.4f}"
    )
