"""Frames 0 and 7 of the first windows of generated scenes beside real ones, same camera (3D view) and BEV:
one PNG, a row per window, real windows on the left. Looked at before any number is read.
    python frames.py FAKE_DIR REAL_DIR OUT.png [ROWS]"""

import sys

import numpy as np
from PIL import Image

from dynamiccity.data import open_dataset
from dynamiccity.viz import render_3d, render_bev

fake_dir, real_dir, out = sys.argv[1:4]
rows = int(sys.argv[4]) if len(sys.argv) > 4 else 4


def tiles(labels: np.ndarray) -> list[np.ndarray]:
    views = [render_3d(labels[t], size=(256, 192)) for t in (0, 7)]
    bevs = [np.asarray(Image.fromarray(render_bev(labels[t], scale=3)).resize((192, 192))) for t in (0, 7)]
    return [
        np.pad(img, ((0, 192 - img.shape[0]), (0, 4), (0, 0)), constant_values=255) for img in views + bevs
    ]


def first_windows(path: str) -> list[np.ndarray]:
    windows = open_dataset(path, "synthtown", frames=8, stride=8)
    return [windows[i].labels for i in range(0, min(len(windows), 2 * rows), 2)][:rows]


lines = [
    np.concatenate([*tiles(real), np.full((192, 16, 3), 255, np.uint8), *tiles(fake)], axis=1)
    for real, fake in zip(first_windows(real_dir), first_windows(fake_dir), strict=False)
]
Image.fromarray(np.concatenate(lines, axis=0)).save(out)
print(out)
