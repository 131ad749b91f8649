"""Generated windows beside real ones, same camera, same frames: one row per set, N windows each, as a PNG
of frames 0 and 7 and as a GIF of all 8 frames.
    python docs/results/dit-centred/beside.py OUT_STEM N NAME=DIR ...
DIR: a SynthTown dataset (a `dynamiccity synth` output or a `dynamiccity sample` output); the first
8-frame window of each of its first N scenes is shown."""

import sys

import numpy as np
from PIL import Image

from dynamiccity.data import open_dataset
from dynamiccity.viz import render_3d, save_animation, tile_images

stem, n = sys.argv[1], int(sys.argv[2])
sets = [tuple(item.split("=", 1)) for item in sys.argv[3:]]
windows = {
    name: [open_dataset(path, "synthtown", frames=8, stride=8)[i] for i in range(n)] for name, path in sets
}


def frame(t: int, captioned: bool) -> np.ndarray:
    images = [render_3d(w.labels[t]) for name, _ in sets for w in windows[name]]
    captions = [f"{name} {i}, frame {t}" if captioned else name for name, _ in sets for i in range(n)]
    return np.asarray(tile_images(images, n, captions))


still = np.concatenate([frame(0, True), frame(7, True)], axis=0)
Image.fromarray(still).save(f"{stem}.png")
save_animation([frame(t, False) for t in range(8)], f"{stem}.gif", fps=4)
