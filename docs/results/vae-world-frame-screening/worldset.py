"""Probe (issue 39): a SynthTown dataset of 8-frame windows seen in world coordinates (each window from its
first frame's ego), so an unchanged train-vae run learns world-frame windows."""
import sys

import numpy as np

from dynamiccity.data.egoframe import to_world
from dynamiccity.data.scene import Scene
from dynamiccity.data.synthtown_format import write_synthtown
from dynamiccity.pipeline import DataSpec
from dynamiccity.runs.datasets import open_windows

src, dst, stride = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open_windows(DataSpec(src, "synthtown"), 8, "all", default_stride=stride)
ext = tuple(data.grid.extent)
out = []
for i in range(len(data)):
    w = data[i]
    info = data.scenes[w.scene]
    lab = to_world(w.labels, w.trajectory, ext)
    poses = np.repeat(w.poses[:1], 8, axis=0)
    out.append((Scene(labels=lab, poses=poses, name=f"{info.name}_t{w.start:04d}", meta={"command": int(w.command)}), info.split))
write_synthtown(dst, out, data.grid)
print(len(out))
